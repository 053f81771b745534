"""Housekeeping that needs no model: where caches live, how the ONNX export cache is pruned,
and how many threads llama.cpp gets by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from affagent.backends import _cpu, _embedded
from affagent.errors import ConfigError
from affagent.perception.encoder import cache_dir, prune_exports
from affagent.resources import cache_root


def test_cache_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFFAGENT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "affagent"
    monkeypatch.setenv("AFFAGENT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    assert cache_dir() == tmp_path / "mine" / "perception"


def test_prune_exports_keeps_the_most_recently_used(tmp_path: Path) -> None:
    for i, h in enumerate(["aaaa", "bbbb", "cccc"]):
        for name in (f"encoder-{h}.onnx", f"encoder-{h}.opt-1.0.onnx"):
            p = tmp_path / name
            p.write_bytes(b"x")
            os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "unrelated.txt").write_text("keep me")
    gone = prune_exports(tmp_path, keep=2)
    assert sorted(p.name for p in gone) == ["encoder-aaaa.onnx", "encoder-aaaa.opt-1.0.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "encoder-bbbb.onnx", "encoder-bbbb.opt-1.0.onnx", "encoder-cccc.onnx",
        "encoder-cccc.opt-1.0.onnx", "unrelated.txt"]


@pytest.mark.parametrize(
    "cores,others,expect",
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.9, 1), (2, 9.0, 1), (16, 0.5, 8),
     (16, 12.0, 4), (1, 5.0, 1)],
)
def test_default_threads_takes_the_cores_others_leave_free(
    monkeypatch: pytest.MonkeyPatch, cores: int, others: float, expect: int
) -> None:
    monkeypatch.delenv("AFFAGENT_LLAMA_THREADS", raising=False)
    monkeypatch.setattr(_embedded, "usable_cores", lambda: cores)
    monkeypatch.setattr(_embedded, "busy_elsewhere", lambda: others)
    assert _embedded.default_threads() == expect


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")
def test_busy_elsewhere_does_not_count_this_process() -> None:
    """Spinning in this process must not read as other programs being busy; a child process
    spinning must."""
    import subprocess
    import sys
    import threading
    import time

    stop = time.monotonic() + 0.6

    def spin() -> None:
        while time.monotonic() < stop:
            pass

    t = threading.Thread(target=spin)
    t.start()
    ours = _cpu.busy_elsewhere(0.3)
    t.join()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nt=time.monotonic()+3\nwhile time.monotonic()<t: pass"])
    try:
        time.sleep(0.5)
        theirs = _cpu.busy_elsewhere(0.5)
    finally:
        child.kill()
        child.wait()
    # on a box other programs already saturate, the child cannot add a whole core: it can
    # only take the reading to (nearly) every core
    assert theirs >= min(ours + 0.5, _cpu.usable_cores() - 0.25), (ours, theirs)


def test_busy_elsewhere_falls_back_to_the_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> tuple[int, int]:
        raise OSError("no /proc here")

    monkeypatch.setattr(_cpu, "_system_ticks", missing)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.5, 0.0, 0.0))
    assert _cpu.busy_elsewhere(0.0) == 3.5


def test_default_threads_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFAGENT_LLAMA_THREADS", "3")
    assert _embedded.default_threads() == 3
    monkeypatch.setenv("AFFAGENT_LLAMA_THREADS", "many")
    with pytest.raises(ConfigError, match="AFFAGENT_LLAMA_THREADS"):
        _embedded.default_threads()

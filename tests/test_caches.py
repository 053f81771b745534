"""Housekeeping that needs no model: where caches live, how the ONNX export cache is pruned,
and how many threads llama.cpp gets by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from affagent.backends import _embedded
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
    "cores,load,expect", [(2, 0.3, 2), (2, 1.4, 2), (2, 1.5, 1), (2, 9.0, 1), (16, 0.5, 8),
                          (16, 12.0, 8), (1, 5.0, 1)],
)
def test_default_threads_backs_off_under_load(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, expect: int
) -> None:
    monkeypatch.delenv("AFFAGENT_LLAMA_THREADS", raising=False)
    monkeypatch.setattr(_embedded, "usable_cores", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert _embedded.default_threads() == expect


def test_default_threads_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFAGENT_LLAMA_THREADS", "3")
    assert _embedded.default_threads() == 3
    monkeypatch.setenv("AFFAGENT_LLAMA_THREADS", "many")
    with pytest.raises(ConfigError, match="AFFAGENT_LLAMA_THREADS"):
        _embedded.default_threads()

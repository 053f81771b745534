"""The protocol runner end to end with the real Agent, SQLite store and scripted backend, run
as a user runs it (a subprocess of the CLI), including a SIGKILL mid-run and a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from affagent.evals.results import read_rows, run_path

CONDS = ("stateless", "second:0.8")
BASE = [
    "tone-swings", "--backend", "scripted", "--conditions", ",".join(CONDS), "--seeds", "2",
    "--persona", "anxious-novice", "--estimator", "keywords", "--classifier", "none",
    "--selector", "none",
]


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "affagent", "protocol", "run", *BASE, "--out", str(out), *extra]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "AFFAGENT_HOME": str(home)}


def _turns(out: Path) -> dict[tuple[str, int], list[int]]:
    return {(c, s): [r.turn for r in read_rows(run_path(out, c, s))] for c in CONDS for s in (0, 1)}


def _stored_turns(out: Path) -> dict[str, int]:
    from affagent.store import SessionStore

    store = SessionStore(f"sqlite:///{out / 'sessions.db'}")
    try:
        return {s.id: s.turns for s in store.list_sessions("default")}
    finally:
        store.close()


@pytest.mark.slow
def test_run_json_and_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = subprocess.run(_cmd(out, "--json"), capture_output=True, text=True, timeout=300,
                       env=_env(tmp_path / "home"))
    assert r.returncode == 0, r.stderr[-2000:]
    obj = json.loads(r.stdout.splitlines()[-1])
    assert set(obj["conditions"]) == set(CONDS)
    for cond in CONDS:
        for metric in ("delay", "recovery_turns", "inertia", "hysteresis", "tone_r"):
            assert set(obj["conditions"][cond][metric]) >= {"mean", "sd"}
    # the scripted backend's tone follows the injected state, and the estimator reads it
    assert obj["conditions"]["second:0.8"]["tone_r"]["mean"] > 0.2
    assert obj["conditions"]["stateless"]["hysteresis"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert obj["conditions"]["second:0.8"]["hysteresis"]["mean"] > 0.5
    assert all(t == list(range(1, 26)) for t in _turns(out).values())
    stored = _stored_turns(out)
    assert len(stored) == 4 and set(stored.values()) == {25}
    # the LLM-free simulation predicts the loop's dynamics exactly (only user turns move it)
    sim = subprocess.run(
        [sys.executable, "-m", "affagent", "protocol", "simulate", "tone-swings", "--persona",
         "anxious-novice", "--estimator", "keywords", "--classifier", "none", "--conditions",
         ",".join(CONDS), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert sim.returncode == 0, sim.stderr[-2000:]
    pred = json.loads(sim.stdout.splitlines()[-1])["conditions"]
    for cond in CONDS:
        for metric in ("hysteresis", "inertia", "delay", "mean_abs_dv"):
            assert obj["conditions"][cond][metric]["mean"] == pytest.approx(
                pred[cond][metric], abs=1e-9
            ), (cond, metric)
    rep = subprocess.run([sys.executable, "-m", "affagent", "protocol", "report", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-2000:]
    for name in ("report.md", "trajectories.png", "sweep.png", "tone.png"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.slow
def test_kill_mid_run_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = _env(tmp_path / "home")
    # a slow backend (50 ms per word) so the kill lands mid-run
    proc = subprocess.Popen(_cmd(out, "--backend-option", "delay_s=0.05", "--no-progress"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        done = sum(len(t) for t in _turns(out).values()) if (out / "runs").exists() else 0
        if done >= 12:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed_at = sum(len(t) for t in _turns(out).values())
    assert 12 <= killed_at < 100
    r = subprocess.run(_cmd(out, "--json"), capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    # every run has each turn exactly once, on disk and in the store
    assert all(t == list(range(1, 26)) for t in _turns(out).values())
    assert set(_stored_turns(out).values()) == {25}

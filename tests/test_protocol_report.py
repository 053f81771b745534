"""``protocol report``: Markdown + PNGs from a (fake-agent) run; the sweep matches the loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from affagent.evals.protocol import load_protocol, resolve_protocol_path
from affagent.evals.report import write_report
from affagent.evals.results import parse_conditions
from affagent.evals.runner import RunPlan, run_plan
from tests._protocol_fakes import FakeAgent, FakeStore


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("proto") / "run"
    store = FakeStore()
    plan = RunPlan(
        protocol=load_protocol("tone-swings"),
        protocol_path=resolve_protocol_path("tone-swings"),
        conditions=parse_conditions("stateless,second:0.8,second:0.95"),
        seeds=[0, 1],
        persona="anxious-novice",
        out=out,
        backend="fake",
    )
    asyncio.run(run_plan(plan, lambda s: FakeAgent(store, s)))
    return out


@pytest.fixture(scope="module")
def report(run_dir: Path) -> dict[str, Any]:
    return write_report(run_dir)


def test_report_writes_markdown_and_pngs(run_dir: Path, report: dict[str, Any]) -> None:
    res = report
    md = (run_dir / "report.md").read_text()
    for cond in ("stateless", "second:0.8", "second:0.95"):
        assert f"`{cond}`" in md
    assert "hysteresis" in md and "Momentum sweep" in md
    for name in ("trajectories.png", "sweep.png", "tone.png"):
        data = (run_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"({name})" in md
    assert len(res["figures"]) == 3


def test_sweep_reproduces_the_measured_second_order_runs(report: dict[str, Any]) -> None:
    """Only the user's turns move the state, so pure dynamics over the same inputs must give
    the loop's numbers (the fake agent uses no elapsed-time decay)."""
    res = report
    by_mu = {r["mu"]: r for r in res["sweep"]}
    for mu in (0.8, 0.95):
        measured = res["conditions"][f"second:{mu}"]
        for key in ("hysteresis", "inertia"):
            assert measured[key]["mean"] == pytest.approx(by_mu[mu][key], abs=1e-9)
    # and the sweep itself shows growing hysteresis with momentum
    assert by_mu[0.95]["hysteresis"] > by_mu[0.5]["hysteresis"]


def test_report_cli_json(run_dir: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "affagent", "protocol", "report", str(run_dir), "--to",
         str(tmp_path / "rep"), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout.splitlines()[-1])
    assert set(obj["conditions"]) == {"stateless", "second:0.8", "second:0.95"}
    assert obj["conditions"]["stateless"]["hysteresis"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert (tmp_path / "rep" / "report.md").exists()

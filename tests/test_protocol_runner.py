"""The protocol runner against an in-memory fake agent: layout, resume, metrics summary."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from affagent.errors import BackendError, ConfigError
from affagent.evals.protocol import load_protocol, resolve_protocol_path
from affagent.evals.results import parse_conditions, read_rows, run_path
from affagent.evals.runner import RunPlan, run_plan
from tests._protocol_fakes import FakeAgent, FakeStore, Killed


def _plan(out: Path, conds: str = "stateless,second:0.8", seeds: int = 2, **kw: object) -> RunPlan:
    return RunPlan(
        protocol=load_protocol("adversarial-reconciliation"),
        protocol_path=resolve_protocol_path("adversarial-reconciliation"),
        conditions=parse_conditions(conds),
        seeds=list(range(seeds)),
        persona="calm-counsellor",
        out=out,
        backend="fake",
        **kw,  # type: ignore[arg-type]
    )


def _rows(out: Path, cond: str, seed: int) -> list[int]:
    return [r.turn for r in read_rows(run_path(out, cond, seed))]


def test_runs_every_condition_and_seed_and_summarises(tmp_path: Path) -> None:
    store = FakeStore()
    ticks: list[int] = []
    out = tmp_path / "run"
    summary = asyncio.run(
        run_plan(_plan(out, concurrency=3), lambda s: FakeAgent(store, s), progress=ticks.append)
    )
    assert sum(ticks) == 2 * 2 * 25
    for cond in ("stateless", "second:0.8"):
        for seed in (0, 1):
            assert _rows(out, cond, seed) == list(range(1, 26))
    assert set(summary["conditions"]) == {"stateless", "second:0.8"}
    st, so = summary["conditions"]["stateless"], summary["conditions"]["second:0.8"]
    assert st["hysteresis"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert so["hysteresis"]["mean"] > 0.1
    assert so["inertia"]["mean"] > st["inertia"]["mean"] - 0.05
    assert json.loads((out / "summary.json").read_text())["conditions"] == summary["conditions"]
    assert (out / "protocol.yaml").exists() and (out / "manifest.json").exists()
    # the dynamics condition overrides the persona's (second:0.8 is also calm-counsellor's)
    assert {s["dynamics"] for s in store.sessions.values()} == {"stateless", "second:0.8"}


def _interrupt_then_resume(tmp_path: Path, when: str) -> tuple[FakeStore, Path]:
    store = FakeStore()
    out = tmp_path / "run"
    FakeAgent.calls = 0
    exc: type[Exception] = BackendError if when == "before" else Killed
    with pytest.raises(exc):
        asyncio.run(
            run_plan(_plan(out, retries=0), lambda s: FakeAgent(store, s, fail_at=37, when=when))
        )
    done = sum(len(read_rows(p)) for p in out.glob("runs/*/*.jsonl"))
    assert 0 < done < 100
    FakeAgent.calls = 0
    asyncio.run(run_plan(_plan(out), lambda s: FakeAgent(store, s)))
    return store, out


@pytest.mark.parametrize("when", ["before", "after"])
def test_resume_has_no_duplicate_or_missing_turns(tmp_path: Path, when: str) -> None:
    store, out = _interrupt_then_resume(tmp_path, when)
    for cond in ("stateless", "second:0.8"):
        for seed in (0, 1):
            assert _rows(out, cond, seed) == list(range(1, 26))
    # the agent generated each turn exactly once
    assert all(len(s["traces"]) == 25 for s in store.sessions.values())
    # a third run does nothing
    FakeAgent.calls = 0
    asyncio.run(run_plan(_plan(out), lambda s: FakeAgent(store, s)))
    assert FakeAgent.calls == 0


def test_a_failed_turn_is_retried_with_a_shifted_seed(tmp_path: Path) -> None:
    store = FakeStore()
    out = tmp_path / "run"
    FakeAgent.calls = 0
    agents: list[FakeAgent] = []

    def make(seed: int) -> FakeAgent:
        agents.append(FakeAgent(store, seed, fail_at=5, when="before"))
        return agents[-1]

    asyncio.run(run_plan(_plan(out, conds="stateless", seeds=1), make))
    rows = read_rows(run_path(out, "stateless", 0))
    assert [r.turn for r in rows] == list(range(1, 26))
    assert [r.attempts for r in rows].count(2) == 1 and rows[4].attempts == 2
    seeds = agents[0].seeds_seen
    assert seeds[4] == 0 and seeds[5] == 7919 and seeds[6] == 0  # shifted once, then restored


def test_a_cut_off_last_line_is_repaired(tmp_path: Path) -> None:
    store = FakeStore()
    out = tmp_path / "run"
    asyncio.run(run_plan(_plan(out, conds="first:0.3", seeds=1), lambda s: FakeAgent(store, s)))
    f = run_path(out, "first:0.3", 0)
    lines = f.read_bytes().splitlines(keepends=True)
    f.write_bytes(b"".join(lines[:10]) + lines[10][:20])  # a torn write
    assert len(read_rows(f)) == 10
    # the store still has all 25 → the runner rebuilds turns 11..25 from the traces
    asyncio.run(run_plan(_plan(out, conds="first:0.3", seeds=1), lambda s: FakeAgent(store, s)))
    assert _rows(out, "first:0.3", 0) == list(range(1, 26))


def test_out_dir_with_another_protocol_is_refused(tmp_path: Path) -> None:
    store = FakeStore()
    out = tmp_path / "run"
    asyncio.run(run_plan(_plan(out, conds="stateless", seeds=1), lambda s: FakeAgent(store, s)))
    other = RunPlan(
        protocol=load_protocol("tone-swings"),
        protocol_path=resolve_protocol_path("tone-swings"),
        conditions=parse_conditions("stateless"),
        seeds=[0],
        persona="calm-counsellor",
        out=out,
    )
    with pytest.raises(ConfigError, match="different protocol"):
        asyncio.run(run_plan(other, lambda s: FakeAgent(store, s)))


@pytest.mark.parametrize("bad", ["second", "secnd:0.8", "first:2", "stateless:1", ""])
def test_bad_condition_lists_accepted_forms(bad: str) -> None:
    with pytest.raises(ConfigError) as ei:
        parse_conditions(f"stateless,{bad}" if bad else " , ")
    msg = str(ei.value)
    assert "\n" not in msg
    assert "stateless" in msg and ("second:MU" in msg or "e.g." in msg)


def test_continuation_strips_the_prefilled_opener() -> None:
    from affagent.evals.runner import continuation

    assert continuation("Ugh. That's frustrating. Fine.", "Ugh. That's frustrating.") == "Fine."
    assert continuation("  I see. Tell me more.", "I see.") == "Tell me more."
    assert continuation("Something else.", "I see.") == "Something else."
    assert continuation("Hello.", "") == "Hello."

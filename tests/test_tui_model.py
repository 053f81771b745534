"""Pure parts of the chat app: gauge and sparkline drawing, and the session view."""

from __future__ import annotations

import pytest

from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.tui.model import SessionView, TurnView, as_trace
from affagent.tui.widgets.gauge import gauge_text, spark_text
from affagent.types import EmotionResult, StrategyChoice, TurnTrace, VADEstimate


def trace(turn: int, before: VAD, after: VAD, user: VAD) -> TurnTrace:
    return TurnTrace(
        session_id="s",
        turn=turn,
        created_at=1.0 + turn,
        persona="calm-counsellor",
        dynamics="first:0.5",
        user_text=f"user {turn}",
        reply=f"reply {turn}",
        user_estimate=VADEstimate.of(user, 0.8),
        emotions=EmotionResult(
            label_set="goemotions",
            labels={"sadness": 0.7, "grief": 0.2, "neutral": 0.1},
            causes=[("lost", 0.9), ("job", 0.4)],
        ),
        state_before=AffectState(vad=before).to_dict(),
        state_after=AffectState(vad=after, velocity=VAD(0.1, 0, 0)).to_dict(),
        strategy=StrategyChoice(strategy="Question", probabilities={"Question": 0.7, "Other": 0.3}),
    )


@pytest.mark.parametrize(
    ("value", "cells"),
    [
        (None, "─────│─────"),
        (0.0, "─────│─────"),
        (1.0, "─────│━━━━━"),
        (-1.0, "━━━━━│─────"),
        (0.4, "─────│━━───"),
        (-0.6, "──━━━│─────"),
        (7.0, "─────│━━━━━"),  # clamped
    ],
)
def test_gauge_cells(value: float | None, cells: str) -> None:
    text, lo, hi = gauge_text(value, 11)
    assert text == cells
    assert hi - lo == cells.count("━")


def test_sparkline_is_fixed_scale_and_keeps_the_newest() -> None:
    assert spark_text([-1.0, 0.0, 1.0], 10) == "▁▅█"
    assert spark_text([0.0] * 5 + [1.0], 3) == "▅▅█"
    assert spark_text([], 4) == ""


def test_session_view_tracks_both_sides() -> None:
    rec = type("Rec", (), {"id": "s", "persona": "p", "dynamics": "first:0.5", "title": "t"})
    rec.state = AffectState(vad=VAD(0.3, 0.0, 0.0))  # type: ignore[attr-defined]
    traces = [
        trace(2, VAD(0.1, 0, 0), VAD(-0.2, 0.1, 0), VAD(-0.8, 0.2, 0)),
        trace(1, VAD(0.3, 0, 0), VAD(0.1, 0, 0), VAD(-0.5, 0.1, 0)),
    ]
    view = SessionView.from_record(rec, traces)
    assert [t.turn for t in view.turns] == [1, 2]  # sorted
    assert view.start == VAD(0.3, 0, 0)
    assert [p.v for p in view.agent_track()] == [0.3, 0.1, -0.2]
    assert [p.v for p in view.user_track()] == [-0.5, -0.8]
    assert view.velocity_now == VAD(0.1, 0, 0)
    last = view.last
    assert isinstance(last, TurnView)
    assert last.strategy == "Question" and last.strategy_p == 0.7
    assert last.emotions[0] == ("sadness", 0.7)
    assert [w for w, _ in last.causes] == ["lost", "job"]
    assert view.feelings(3)[0][1] >= view.feelings(3)[1][1]
    assert view.in_words()


def test_as_trace_accepts_rows_dicts_and_traces() -> None:
    t = trace(1, VAD(), VAD(), VAD())
    row = type("Row", (), {"trace": t})()
    assert as_trace(t) is t
    assert as_trace(row) is t
    assert as_trace(t.model_dump(mode="json")) == t
    with pytest.raises(TypeError):
        as_trace(42)

from __future__ import annotations

import math

import pytest
from affect_strategies import personalities, unit
from hypothesis import given, settings
from hypothesis import strategies as st

from affagent.affect.dynamics import parse_dynamics, simulate, step
from affagent.affect.personality import Personality
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import ConfigError

anyfloat = st.floats(allow_nan=True, allow_infinity=True)
specs = st.one_of(
    st.just("stateless"),
    st.floats(min_value=0.01, max_value=1.0).map(lambda a: f"first:{a}"),
    st.floats(min_value=0.0, max_value=0.97).map(lambda m: f"second:{m}"),
)
impulse_seqs = st.lists(st.builds(VAD, anyfloat, anyfloat, anyfloat), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(impulse_seqs, personalities, specs, st.one_of(st.none(), st.floats(0, 1e7)))
def test_state_bounded_and_finite(
    xs: list[VAD], p: Personality, spec: str, dt: float | None
) -> None:
    s = AffectState.at_rest(p.resting())
    for x in xs:
        s = step(s, x, p, spec, elapsed_s=dt)
        for c in (*s.vad, *s.velocity):
            assert math.isfinite(c)
        for c in s.vad:
            assert -1.0 <= c <= 1.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.builds(VAD, unit, unit, unit), max_size=20), personalities, specs)
def test_neutral_input_converges_to_rest(pre: list[VAD], p: Personality, spec: str) -> None:
    s = AffectState.at_rest(p.resting())
    for x in pre:
        s = step(s, x, p, spec)
    for _ in range(1500):
        s = step(s, VAD(), p, spec)
    rest = p.resting()
    assert (s.vad - rest).norm() < 1e-3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.builds(VAD, unit, unit, unit), min_size=1, max_size=30),
    personalities,
    st.floats(min_value=0.01, max_value=1.0),
)
def test_first_order_never_overshoots(xs: list[VAD], p: Personality, alpha: float) -> None:
    from affagent.affect.personality import target

    w = p.weights()
    s = AffectState.at_rest(w.rest)
    for x in xs:
        e = target(x, w)
        new = step(s, x, w, f"first:{alpha}")
        for before, after, goal in zip(s.vad, new.vad, e, strict=True):
            lo, hi = min(before, goal), max(before, goal)
            assert lo - 1e-12 <= after <= hi + 1e-12
        s = new


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(VAD, anyfloat, anyfloat, anyfloat), max_size=30), personalities, specs)
def test_deterministic(xs: list[VAD], p: Personality, spec: str) -> None:
    a = simulate(xs, p, spec)
    b = simulate(xs, p, spec)
    assert [s.to_json() for s in a] == [s.to_json() for s in b]


@settings(max_examples=200, deadline=None)
@given(
    st.builds(VAD, unit, unit, unit),
    st.builds(VAD, st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3)),
    st.one_of(st.none(), st.floats(0, 2e9)),
    st.integers(0, 10**6),
)
def test_json_round_trip_exact(v: VAD, vel: VAD, ts: float | None, turns: int) -> None:
    s = AffectState(v, vel, ts, turns)
    back = AffectState.from_json(s.to_json())
    assert back == s
    assert back.to_json() == s.to_json()


def test_resumed_session_continues_bit_for_bit() -> None:
    p = Personality(neuroticism=0.8)
    xs = [VAD(-0.7, 0.6, 0.3)] * 5 + [VAD(0.5, -0.2, 0.1)] * 5
    straight = simulate(xs, p, "second:0.9")
    s = simulate(xs[:4], p, "second:0.9")[-1]
    s = AffectState.from_json(s.to_json())
    for x in xs[4:]:
        s = step(s, x, p, "second:0.9")
    assert s == straight[-1]


def _step_cycle() -> list[VAD]:
    """Neutral 1–8, adversarial 9–16 (V −0.7), reconciliation 17–25 (V +0.5)."""
    return [VAD()] * 8 + [VAD(-0.7, 0.5, 0.2)] * 8 + [VAD(0.5, 0.0, 0.0)] * 9


def _area_and_lag(spec: str) -> tuple[float, int]:
    from affagent.affect.personality import target

    p = Personality()
    w = p.weights()
    xs = _step_cycle()
    states = simulate(xs, p, spec)
    area = sum(abs(s.vad.v - target(x, w).v) for s, x in zip(states[8:], xs[8:], strict=True))
    # lag: turns after the down-step until valence first covers half the step
    half = w.rest.v + 0.5 * (target(xs[8], w).v - w.rest.v)
    lag = (
        next(i for i, s in enumerate(states[8:16], 1) if s.vad.v <= half)
        if any(s.vad.v <= half for s in states[8:16])
        else 99
    )
    return area, lag


def test_hysteresis_grows_strictly_with_momentum() -> None:
    areas = [_area_and_lag(f"second:{mu}")[0] for mu in (0.5, 0.8, 0.95)]
    assert areas[0] < areas[1] < areas[2]


def test_second_order_lags_more_than_first_order() -> None:
    a_first, lag_first = _area_and_lag("first:0.5")
    for mu in (0.8, 0.95):
        a, lag = _area_and_lag(f"second:{mu}")
        assert lag > lag_first
        assert a > a_first


def test_stateless_is_latest_target() -> None:
    p = Personality()
    s = step(AffectState(VAD(0.9, 0.9, 0.9)), VAD(-0.5, 0.2, 0.0), p, "stateless")
    from affagent.affect.personality import target

    assert s.vad == target(VAD(-0.5, 0.2, 0.0), p.weights())
    assert s.velocity == VAD()


def test_elapsed_time_decays_toward_rest() -> None:
    p = Personality()
    w = p.weights()
    angry = AffectState(VAD(-0.9, 0.8, 0.5), VAD(-0.1, 0.1, 0.0))
    later = step(angry, VAD(), p, "first:0.01", elapsed_s=3 * 3600)
    assert (later.vad - w.rest).norm() < 0.01
    soon = step(angry, VAD(), p, "first:0.01", elapsed_s=5)
    assert soon.vad.v < -0.85


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "first",
        "first:0",
        "first:1.5",
        "second:1",
        "second:x",
        "third:0.2",
        "stateless:0.3",
        "second:0.5:0.9",
        "first:nan",
    ],
)
def test_bad_dynamics_strings(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"stateless|needs|not a finite number"):
        parse_dynamics(bad)


@pytest.mark.parametrize(
    "good,canon",
    [
        ("stateless", "stateless"),
        ("first:0.30", "first:0.3"),
        ("SECOND:0.8", "second:0.8"),
        ("second:0.8:0.05", "second:0.8:0.05"),
    ],
)
def test_dynamics_canonical(good: str, canon: str) -> None:
    assert str(parse_dynamics(good)) == canon

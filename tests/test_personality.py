from __future__ import annotations

import pytest
from affect_strategies import personalities, trait
from hypothesis import given

from affagent.affect.personality import Personality, peld_response
from affagent.affect.vad import VAD
from affagent.persona import list_personas, load_persona


def _with(p: Personality, **kw: float) -> Personality:
    return p.model_copy(update=kw)


@given(
    personalities,
    trait,
    trait,
)
def test_neuroticism_lowers_valence_raises_arousal(p: Personality, n1: float, n2: float) -> None:
    lo, hi = sorted((n1, n2))
    if hi - lo < 1e-6:
        return
    a, b = _with(p, neuroticism=lo).temperament(), _with(p, neuroticism=hi).temperament()
    assert b.v < a.v
    assert b.a > a.a
    wa, wb = _with(p, neuroticism=lo).weights(), _with(p, neuroticism=hi).weights()
    assert wb.gain_neg.v > wa.gain_neg.v  # reacts more to negative input
    assert wb.speed_back < wa.speed_back  # recovers more slowly
    assert wb.spring < wa.spring and wb.half_life_s > wa.half_life_s


@given(
    personalities,
    trait,
    trait,
)
def test_extraversion_raises_dominance_and_arousal_gain(
    p: Personality, e1: float, e2: float
) -> None:
    lo, hi = sorted((e1, e2))
    if hi - lo < 1e-6:
        return
    a, b = _with(p, extraversion=lo), _with(p, extraversion=hi)
    assert b.temperament().d > a.temperament().d
    assert b.weights().gain_pos.a > a.weights().gain_pos.a


def test_mehrabian_uses_stability_not_neuroticism() -> None:
    anxious = Personality(neuroticism=1.0)
    calm = Personality(neuroticism=0.0)
    assert anxious.resting().v < 0 < calm.resting().v
    assert anxious.resting().a > 0 > calm.resting().a


def test_average_personality_rests_at_origin() -> None:
    assert Personality().resting() == VAD(0.0, 0.0, 0.0)


@pytest.mark.parametrize("stem", list_personas())
def test_persona_resting_point_matches_formula(stem: str) -> None:
    p = load_persona(stem)
    t = p.traits
    o, c, e, ag, n = (
        2 * x - 1
        for x in (t.openness, t.conscientiousness, t.extraversion, t.agreeableness, t.neuroticism)
    )
    s = -n
    expect = VAD(
        0.21 * e + 0.59 * ag + 0.19 * s,
        0.15 * o + 0.30 * ag - 0.57 * s,
        0.25 * o + 0.17 * c + 0.60 * e - 0.32 * ag,
    ).clamped()
    got = t.resting()
    assert got == pytest.approx(expect)  # type: ignore[comparison-overlap]


def test_peld_response_weights_variation() -> None:
    out = peld_response(VAD(0.1, 0.0, 0.0), VAD(-0.5, 0.4, 0.2), VAD(0.5, 1.0, 0.0))
    assert out == VAD(pytest.approx(-0.15), pytest.approx(0.4), 0.0)  # type: ignore[arg-type]
    assert peld_response(VAD(0.9, 0, 0), VAD(1, 0, 0), VAD(1, 1, 1)).v == 1.0


def test_personas_are_distinct_and_at_least_five() -> None:
    stems = list_personas()
    assert len(stems) >= 5
    rests = {load_persona(s).traits.resting().as_tuple() for s in stems}
    assert len(rests) == len(stems)

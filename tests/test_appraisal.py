"""Appraisal (user affect → the persona's stimulus), the target it feeds, and the feeling words
a role allows. Pure functions: no models here (tests/test_role_probes.py runs the real
estimator through the same code)."""

from __future__ import annotations

import doctest
import math

import pytest
from affect_strategies import personalities, unit
from hypothesis import given, settings
from hypothesis import strategies as st

from affagent.affect import appraisal as appraisal_mod
from affagent.affect import feeling as feeling_mod
from affagent.affect.appraisal import ROLES, appraise, perceived_affect, situation_of
from affagent.affect.feeling import VOCABULARY, allowed_words, feeling_words
from affagent.affect.labels import prototypes
from affagent.affect.personality import Personality, target
from affagent.affect.vad import VAD

roles = st.sampled_from(ROLES)

#: Joy and gratitude: what a listener must never be told it feels facing distress.
JOY_GRATITUDE = {"happy", "joyful", "delighted", "grateful", "thankful", "appreciative",
                 "excited", "elated", "triumphant", "carefree", "loved", "proud"}

DISTRESSED = VAD(-0.6, 0.4, -0.2)
GLAD = VAD(0.6, 0.4, 0.2)


# --------------------------------------------------------------------------- appraise


def test_contagion_mirrors_the_user() -> None:
    a = appraise(DISTRESSED, role="contagion", personality=Personality())
    assert a.stimulus == DISTRESSED and a.perceived == DISTRESSED
    assert a.role == "contagion" and a.situation == "distress" and "mirrors" in a.reason


def test_empathic_concern_feels_for_not_as() -> None:
    a = appraise(DISTRESSED, role="empathic_concern", personality=Personality())
    s = a.stimulus
    assert s.v < -0.5  # clearly concerned
    assert 0 < s.a <= 0.5 * DISTRESSED.a + 1e-9  # follows the user's arousal, damped
    assert s.d > 0 > DISTRESSED.d  # steady: never takes on the user's helplessness
    assert "distressed" in a.reason
    good = appraise(GLAD, role="empathic_concern", personality=Personality()).stimulus
    assert 0 < good.v < GLAD.v  # glad for them, a little less than they are


def test_composed_moves_less_and_calms() -> None:
    p = Personality()
    care = appraise(DISTRESSED, role="empathic_concern", personality=p).stimulus
    calm = appraise(DISTRESSED, role="composed", personality=p).stimulus
    assert care.v < calm.v < 0
    assert calm.a < 0 < DISTRESSED.a  # calmer, not agitated
    assert calm.d > 0
    assert 0 < appraise(GLAD, role="composed", personality=p).stimulus.v < GLAD.v / 2 + 1e-9


def test_agreeableness_deepens_concern() -> None:
    kind = appraise(DISTRESSED, role="empathic_concern", personality=Personality(agreeableness=1))
    cold = appraise(DISTRESSED, role="empathic_concern", personality=Personality(agreeableness=0))
    assert kind.stimulus.v < cold.stimulus.v


@settings(max_examples=200, deadline=None)
@given(unit, unit, unit, unit, roles, personalities)
def test_stimulus_rises_with_user_valence(
    v1: float, v2: float, a: float, d: float, role: str, p: Personality
) -> None:
    lo, hi = sorted((v1, v2))
    s_lo = appraise(VAD(lo, a, d), role=role, personality=p).stimulus
    s_hi = appraise(VAD(hi, a, d), role=role, personality=p).stimulus
    assert s_lo.v <= s_hi.v + 1e-12
    for c in (*s_lo, *s_hi):
        assert -1.0 <= c <= 1.0


def test_odd_inputs_are_safe() -> None:
    nan = appraise(VAD(math.nan, math.inf, -math.inf), role="empathic_concern",
                   personality=Personality())
    assert all(math.isfinite(c) for c in nan.stimulus)
    empty = appraise(DISTRESSED, role="composed", personality=Personality(), confidence=0.0)
    assert empty.stimulus == VAD(0.0, 0.0, 0.0) and empty.situation == "neutral"


def test_unknown_role_names_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="empathic_concern, contagion, composed"):
        appraise(DISTRESSED, role="therapist", personality=Personality())
    with pytest.raises(ValueError, match="allowed"):
        feeling_words(VAD(), role="therapist")


def test_emotions_and_causes_are_used() -> None:
    mild = VAD(-0.1, 0.1, 0.0)
    alone = perceived_affect(mild)
    sad = perceived_affect(mild, {"sadness": 0.9, "neutral": 0.1})
    assert sad.v < alone.v - 0.1  # the classifier's sadness deepens the reading
    assert perceived_affect(mild, {"bogus": 1.0}) == alone  # unknown labels are skipped
    a = appraise(mild, role="empathic_concern", personality=Personality(),
                 emotions={"sadness": 0.9}, causes=["lost", "job"])
    assert a.situation == "distress" and "'lost', 'job'" in a.reason


def test_situation_bands() -> None:
    assert situation_of(None) == "neutral"
    assert [situation_of(VAD(v, 0, 0)) for v in (-0.5, 0.0, 0.5)] == ["distress", "neutral",
                                                                     "good"]


# --------------------------------------------------------------------------- target


@settings(max_examples=300, deadline=None)
@given(unit, unit, unit, unit, personalities)
def test_target_rises_with_the_stimulus_and_stays_bounded(
    x1: float, x2: float, a: float, d: float, p: Personality
) -> None:
    w = p.weights()
    lo, hi = sorted((x1, x2))
    t_lo, t_hi = target(VAD(lo, a, d), w), target(VAD(hi, a, d), w)
    assert t_lo.v <= t_hi.v + 1e-12
    assert all(-1.0 <= c <= 1.0 for c in (*t_lo, *t_hi))
    assert target(VAD(), w) == w.rest


def test_opposing_stimulus_displaces_the_resting_mood() -> None:
    """The issue: an agreeable, stable persona rests pleasant (V ≈ +0.58); before, the
    strongest negative stimulus still left its target above +0.1."""
    w = Personality(openness=0.7, conscientiousness=0.8, extraversion=0.45, agreeableness=0.9,
                    neuroticism=0.15).weights()
    assert w.rest.v > 0.5
    assert target(VAD(-1.0, 0, 0), w).v == pytest.approx(-w.gain_neg.v)
    assert target(VAD(-0.9, 0, 0), w).v < -0.3
    # same direction as the mood: PELD's additive transition, clamped
    assert target(VAD(0.5, 0, 0), w).v == pytest.approx(min(1.0, w.rest.v + 0.5 * w.gain_pos.v))


def test_neutral_persona_target_is_unchanged() -> None:
    """With the resting mood at the origin both branches are e = g ⊙ x (the paper replication)."""
    w = Personality().weights()
    for x in (VAD(-0.7, 0.5, 0.2), VAD(0.5, -0.3, -0.1)):
        assert target(x, w) == x.mul(w.gains_for(x))


# --------------------------------------------------------------------------- feeling words


def test_vocabularies_are_table_terms() -> None:
    terms = {p.term for p in prototypes()}
    assert set(VOCABULARY) == set(ROLES)
    for role, by_situation in VOCABULARY.items():
        assert set(by_situation) == {"distress", "good", "neutral"}, role
        for words in by_situation.values():
            assert words <= terms and len(words) >= 5


@settings(max_examples=300, deadline=None)
@given(unit, unit, unit, roles, unit)
def test_no_joy_at_distress_for_any_state(v: float, a: float, d: float, role: str,
                                          uv: float) -> None:
    user = VAD(-abs(uv) - 0.15, 0.3, -0.2)
    words = feeling_words(VAD(v, a, d), role=role, user=user)
    assert words and not set(words) & JOY_GRATITUDE
    assert set(words) <= allowed_words(role, user)


def test_counsellor_at_rest_facing_distress_is_not_grateful() -> None:
    """The issue's words: 'appreciative', 'thankful/grateful' for a counsellor at V +0.53."""
    state = VAD(0.53, -0.1, -0.1)
    assert {"appreciative", "thankful", "grateful"} & set(
        feeling_words(state, role="contagion", user=GLAD, k=5)
    )
    for role in ("empathic_concern", "composed"):
        words = feeling_words(state, role=role, user=DISTRESSED)
        assert len(words) == 3 and not set(words) & JOY_GRATITUDE, (role, words)


def test_feeling_words_near_origin_and_for_good_news() -> None:
    assert feeling_words(VAD(0.05, 0.02, 0.0), role="composed") == ["calm"]
    assert feeling_words(VAD(0.5, 0.1, 0.0), role="empathic_concern", k=0) == ["calm"]
    happy = feeling_words(VAD(0.81, 0.51, 0.46), role="empathic_concern", user=GLAD)
    assert "happy" in happy


def test_module_examples() -> None:
    for mod in (feeling_mod, appraisal_mod):
        failed, _ = doctest.testmod(mod)
        assert failed == 0, mod.__name__


# --------------------------------------------------------------------------- prompt


def test_state_section_uses_the_role_words_and_stance() -> None:
    from affagent.affect.state import AffectState
    from affagent.persona import load_persona
    from affagent.prompting import PromptBuilder, PromptInputs
    from affagent.prompting._sections import state_section, state_words

    st_ = AffectState.at_rest(VAD(-0.3, 0.2, 0.1))
    text = state_section(st_, ["serious", "solemn", "sad"], "empathic_concern")
    assert "you feel mildly serious, solemn and sad." in text
    assert "Your stance: empathic concern." in text
    assert "V=-0.30 A=+0.20 D=+0.10" in text
    assert state_words(st_) == state_words(st_, ())  # falls back to the state alone
    assert state_words(AffectState(), ["calm"]) == "calm"

    persona = load_persona("calm-counsellor")
    p = PromptBuilder(injection="system").build(
        PromptInputs(persona, st_, "I lost my job", feeling=("troubled", "sad"))
    )
    assert "you feel mildly troubled and sad" in p.sections["state"]
    assert "Your stance: empathic concern." in p.sections["state"]
    plain = PromptBuilder(injection="system").build(PromptInputs(persona, st_, "hi"))
    assert f"you feel {state_words(st_)}." in plain.sections["state"]

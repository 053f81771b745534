"""Role probes: every shipped persona, real perception (the shipped estimator and classifier)
→ appraisal → the persona's own dynamics → feeling words, on scripted conversations.

The messages in ``tests/fixtures/`` were written before any appraisal coefficient was tuned
and never used to tune one (the coefficients were set on ESConv and EmpatheticDialogues
turns), so these are held-out checks of what a user would read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from affagent.affect.appraisal import DISTRESS_AT, appraise
from affagent.affect.dynamics import step
from affagent.affect.feeling import allowed_words, feeling_words
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.persona import Persona, list_personas, load_persona

FIXTURES = Path(__file__).parent / "fixtures"

#: Joy and gratitude words: a listener or a support agent facing distress never feels these.
JOY_GRATITUDE = {"happy", "joyful", "delighted", "grateful", "thankful", "appreciative",
                 "excited", "elated", "triumphant", "carefree", "loved", "proud", "glad"}

DISTRESSED_CHAT = [
    "I had the worst week of my life.",
    "My manager told me I'm being let go at the end of the month.",
    "I don't know how I'll pay for my flat now.",
    "I feel so ashamed, I can't even tell my parents.",
    "Everything I worked for is falling apart.",
    "I just feel hopeless and scared.",
]
DELIGHTED_CHAT = [
    "Guess what, I have amazing news!",
    "I got the promotion I've been working towards for three years!",
    "My team threw me a surprise party to celebrate.",
    "We're going on holiday next week to celebrate, I can't wait!",
    "I feel so proud and grateful right now.",
    "Honestly this is the happiest I've been in years!",
]


def _lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@dataclass(frozen=True)
class Read:
    vad: VAD
    emotions: dict[str, float]


@pytest.fixture(scope="module")
def perceive() -> dict[str, Read]:
    """Every probe message read once by the shipped estimator and classifier."""
    from affagent.perception import load_classifier, load_estimator

    texts = sorted({*DISTRESSED_CHAT, *DELIGHTED_CHAT, *_lines("distressed_messages.txt"),
                    *_lines("good_news.txt")})
    est, clf = load_estimator(), load_classifier()
    vads = est.estimate(texts)
    emos = clf.classify(texts, causes=False)
    return {t: Read(e.vad, r.labels) for t, e, r in zip(texts, vads, emos, strict=True)}


def converse(persona: Persona, messages: list[str], reads: dict[str, Read],
             start: AffectState | None = None) -> list[tuple[AffectState, list[str], VAD]]:
    """(state, feeling words, perceived user affect) after each message, from rest."""
    w = persona.traits.weights()
    state = start or AffectState.at_rest(w.rest)
    out = []
    for m in messages:
        r = reads[m]
        a = appraise(r.vad, role=persona.role, personality=persona.traits, emotions=r.emotions)
        state = step(state, a.stimulus, persona.traits, persona.dynamics_spec)
        out.append((state, feeling_words(state.vad, role=persona.role, user=a.perceived),
                    a.perceived))
    return out


PERSONAS = list_personas()


def test_the_probe_messages_read_as_intended(perceive: dict[str, Read]) -> None:
    """A check on the fixtures themselves: the estimator reads them as distressed / glad."""
    assert sum(perceive[m].vad.v < -0.15 for m in DISTRESSED_CHAT) >= 5
    assert sum(perceive[m].vad.v > 0.15 for m in DELIGHTED_CHAT) >= 5


@pytest.mark.parametrize("stem", PERSONAS)
def test_distressed_user(stem: str, perceive: dict[str, Read]) -> None:
    p = load_persona(stem)
    rest = p.traits.resting()
    turns = converse(p, DISTRESSED_CHAT, perceive)
    final = turns[-1][0].vad
    for state, words, user in turns:
        assert set(words) <= allowed_words(p.role, user), (stem, words)
        if user.v < -0.15:
            assert not set(words) & JOY_GRATITUDE, (stem, state.vad, words)
    assert final.v < rest.v - 0.02, (stem, rest, final)  # every role's valence goes down
    if p.role == "empathic_concern":
        assert final.v <= 0.1 and final.v < rest.v - 0.3  # concerned...
        assert final.a <= rest.a + 0.35  # ...arousal follows the user's, damped...
        assert final.d >= rest.d - 0.05  # ...dominance steady: calm competence
    elif p.role == "composed":
        assert final.a <= rest.a + 0.02  # toward calm, never agitated
        assert final.d >= rest.d - 0.02
        if stem == "support-agent":
            assert final.v <= 0.1
    else:  # contagion mirrors: down into the user's feeling
        assert final.v < rest.v - 0.15
        assert final.v < 0 or rest.v > 0.3  # only a sunny temperament stays above zero


@pytest.mark.parametrize("stem", PERSONAS)
def test_delighted_user(stem: str, perceive: dict[str, Read]) -> None:
    p = load_persona(stem)
    rest = p.traits.resting()
    turns = converse(p, DELIGHTED_CHAT, perceive)
    assert turns[-1][0].vad.v > rest.v, stem  # every role shares good news
    for _, words, user in turns:
        assert set(words) <= allowed_words(p.role, user), (stem, words)
        if p.role != "contagion" and user.v > 0.15:
            assert not set(words) & {"sad", "troubled", "upset", "tense"}, (stem, words)


#: How many held-out messages the shipped perception may misread (a distressed message read
#: as neutral or glad, good news read as bad) before these tests call it a regression. The
#: measured counts are in evals/RESULTS.md ("Role probes"); appraisal cannot fix a misreading.
MAX_MISREAD_DISTRESS = 2
MAX_MISREAD_GOOD = 1


@pytest.mark.parametrize("stem", ["calm-counsellor", "support-agent"])
def test_unseen_distress_keeps_listeners_unpleasant(stem: str, perceive: dict[str, Read]
                                                    ) -> None:
    """The target: over 30 distressed messages never used for tuning, the counsellor's and the
    support agent's valence stays ≤ 0.1 and their words hold no joy or gratitude, as the
    first turn of a session (from the resting mood) and through one long session, for every
    message the perception reads as distressed; and the perception misreads at most
    ``MAX_MISREAD_DISTRESS`` of them."""
    p = load_persona(stem)
    messages = _lines("distressed_messages.txt")
    assert len(messages) >= 30
    misread = [m for m in messages if converse(p, [m], perceive)[0][2].v > DISTRESS_AT]
    assert len(misread) <= MAX_MISREAD_DISTRESS, misread
    bad = []
    for m in messages:
        state, words, _ = converse(p, [m], perceive)[0]
        if m not in misread and (state.vad.v > 0.1 or set(words) & JOY_GRATITUDE):
            bad.append((m, round(state.vad.v, 2), words))
    session = converse(p, messages, perceive)
    for m, (state, words, _) in zip(messages, session, strict=True):
        if m not in misread and (state.vad.v > 0.1 or set(words) & JOY_GRATITUDE):
            bad.append(("(session) " + m, round(state.vad.v, 2), words))
    assert not bad, bad


@pytest.mark.parametrize("stem", PERSONAS)
def test_good_news_raises_every_persona(stem: str, perceive: dict[str, Read]) -> None:
    """Plain good news raises every persona's valence, from rest and from a low state (no
    momentum), for every message the perception does not read as bad."""
    p = load_persona(stem)
    w = p.traits.weights()
    news = _lines("good_news.txt")
    misread = [m for m in news if converse(p, [m], perceive)[0][2].v <= 0]
    assert len(misread) <= MAX_MISREAD_GOOD, misread
    for m in news:
        if m in misread:
            continue
        state = converse(p, [m], perceive)[0][0]
        assert state.vad.v > w.rest.v, (stem, m, state.vad)
        low = AffectState.at_rest(VAD(w.rest.v - 0.4, w.rest.a, w.rest.d))
        after = converse(p, [m], perceive, start=low)[0][0]
        assert after.vad.v > low.vad.v, (stem, m, after.vad)

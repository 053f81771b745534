"""The words an agent is told it feels: Russell & Mehrabian (1977) terms, within its role.

:func:`affagent.affect.labels.describe` names a state from the whole everyday vocabulary, so a
counsellor whose state is still pleasant when someone arrives in tears is told it feels
"appreciative" or "grateful". Here the vocabulary depends on the persona's role and on the
user's situation (:func:`affagent.affect.appraisal.situation_of`): the words are the most
likely terms of the state's mixture (:func:`affagent.affect.labels.mixture`) *among those the
role allows*. A listener facing distress can be serious, solemn, troubled or sad, never
happy, grateful or excited; any role may share good news; a companion (``contagion``) may feel
anything except joy at someone's distress.

Near the origin (within :data:`CALM_RADIUS`) the state reads as ``calm``: the table has no
neutral term, so the origin is calm by convention, as ``describe`` does. The exception is a
listener (``empathic_concern``) facing distress: its words then always come from the concern
vocabulary, since "calm" would tell the model it is untouched by what it just heard.

>>> feeling_words(VAD(0.58, -0.1, -0.11), role="empathic_concern", user=VAD(-0.6, 0.4, -0.2))
['solemn', 'reserved', 'quiet']
"""

from __future__ import annotations

from affagent.affect.appraisal import check_role, situation_of
from affagent.affect.labels import DESCRIPTIVE_TERMS, mixture
from affagent.affect.vad import VAD

CALM_RADIUS = 0.12

#: Joy, elation and gratitude: never felt at someone's distress, by any role.
JOY_WORDS: frozenset[str] = frozenset(
    {
        "happy", "joyful", "excited", "triumphant", "proud", "carefree", "untroubled",
        "grateful", "thankful", "appreciative", "loved", "inspired", "hopeful", "relaxed",
        "secure", "fascinated", "interested", "impressed", "bold",
    }
)

#: Words that judge or turn away from the person: a companion mirrors a distressed user's
#: feeling, it does not look down on it.
AVERSIVE_WORDS: frozenset[str] = frozenset(
    {"skeptical", "suspicious", "contemptuous", "scornful", "disdainful", "bored",
     "uninterested", "detached"}
)

_STEADY = frozenset({"serious", "solemn", "quiet", "reserved", "alert", "subdued"})

#: Role → situation → the terms allowed (all in the Russell & Mehrabian table).
VOCABULARY: dict[str, dict[str, frozenset[str]]] = {
    "empathic_concern": {
        "distress": _STEADY | {"sad", "troubled", "tense", "kind"},
        "neutral": _STEADY | {"friendly", "kind", "interested", "curious", "relaxed", "secure",
                              "cooperative", "hopeful"},
        "good": frozenset({"happy", "joyful", "hopeful", "friendly", "kind", "interested",
                           "relaxed", "impressed", "proud", "cooperative", "secure", "serious",
                           "alert"}),
    },
    "composed": {
        "distress": _STEADY | {"cooperative", "tense"},
        "neutral": _STEADY | {"friendly", "cooperative", "interested", "curious", "relaxed",
                              "secure"},
        "good": frozenset({"friendly", "cooperative", "hopeful", "interested", "relaxed",
                           "secure", "impressed", "happy", "alert", "serious"}),
    },
    "contagion": {
        "distress": DESCRIPTIVE_TERMS - JOY_WORDS - AVERSIVE_WORDS,
        "neutral": DESCRIPTIVE_TERMS,
        "good": DESCRIPTIVE_TERMS,
    },
}


def allowed_words(role: str, user: VAD | None = None) -> frozenset[str]:
    """The terms ``role`` may feel toward a user in ``user``'s state (plus ``calm``)."""
    check_role(role)
    return VOCABULARY[role][situation_of(user)] | {"calm"}


def feeling_words(state: VAD, *, role: str, user: VAD | None = None, k: int = 3) -> list[str]:
    """The ``k`` most likely terms for ``state`` among those ``role`` allows facing ``user``
    (the perceived user affect, e.g. :attr:`Appraisal.perceived`; ``None``: neutral
    situation). ``["calm"]`` near the origin (except for a listener facing distress) or for
    ``k <= 0``. Raises ``ValueError`` for an unknown role."""
    vocab = frozenset(allowed_words(role, user) - {"calm"})
    concerned = role == "empathic_concern" and situation_of(user) == "distress"
    if k <= 0 or (state.norm() < CALM_RADIUS and not concerned):
        return ["calm"]
    return [t for t, _ in mixture(state, top_k=k, vocabulary=vocab)]

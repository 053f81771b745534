"""The tone bank used by the ``prefill`` and ``fewshot`` injection methods.

The agent's state is mapped to one of seven tone labels: ``neutral`` when the state is within
0.12 of the origin, otherwise the label whose anchor (its Russell & Mehrabian 1977 location,
via :func:`affagent.affect.labels.label_vad`) is nearest. Each label has a few short openers
(prefilled at the start of the reply, so even a 135M model continues in that tone) and one
example exchange (for few-shot prompting). The choice among openers is deterministic per
(session, turn), so a replayed turn gets the same opener.

================  =========================================  =================================
label             anchor term (V, A, D)                      example opener
================  =========================================  =================================
joyful            joyful (+0.76, +0.48, +0.35)               "Oh, I'm really glad you told me!"
excited           excited (+0.62, +0.75, +0.38)              "Oh wow, okay!"
relaxed           relaxed (+0.68, −0.46, +0.06)              "Mm, I hear you."
sad               sad (−0.63, −0.27, −0.33)                  "Oh... that's hard."
angry             angry (−0.51, +0.59, +0.25)                "Honestly, that's not okay."
anxious           fearful (−0.64, +0.60, −0.43)              "Oh no... okay."
neutral           the origin                                 "I see."
concerned         (angry or anxious, for a caring role)      "Oh, I'm sorry. That sounds hard."
================  =========================================  =================================

The bank fits the persona's **role** (:mod:`affagent.affect.appraisal`): a persona whose role
is ``empathic_concern`` or ``composed`` is stirred by the user's distress *on their behalf*,
so where its state lies near "angry" or "anxious" it opens with concern, never with
"Ugh. That's frustrating." or "that makes me uneasy" (which would make the user's trouble
about the agent). A ``contagion`` persona (a friend who feels with you) keeps them.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

from affagent.affect.labels import label_vad
from affagent.affect.vad import VAD

NEUTRAL_RADIUS = 0.12

#: Anchor term per tone label (looked up in the Russell & Mehrabian table).
ANCHORS: dict[str, str] = {
    "joyful": "joyful",
    "excited": "excited",
    "relaxed": "relaxed",
    "sad": "sad",
    "angry": "angry",
    "anxious": "fearful",
}

OPENERS: dict[str, tuple[str, ...]] = {
    # Openers carry tone without presupposing what the user said, so that a cheerful agent
    # does not answer bad news with "That's great!".
    "joyful": (
        "Oh, I'm really glad you told me!",
        "Oh, thank you for sharing this with me!",
        "Oh, I'm so happy you're here!",
    ),
    "excited": ("Oh wow, okay!", "Oh, tell me more!", "Oh, this is big!"),
    "relaxed": ("Mm, I hear you.", "Okay, let's take this gently.", "Thank you for telling me."),
    "neutral": ("I see.", "Okay.", "Right."),
    "sad": ("Oh... that's hard.", "Oh... I'm sorry.", "That sounds really heavy."),
    "angry": ("Honestly, that's not okay.", "Ugh. That's frustrating.", "Hmm. I don't like this."),
    "anxious": ("Oh no... okay.", "Oh dear, that's worrying.", "Hmm, that makes me uneasy."),
    "concerned": (
        "Oh, I'm sorry. That sounds hard.",
        "That sounds really painful.",
        "Oh no, I'm sorry you're going through this.",
    ),
}

#: Tones a caring role turns into concern (see the module doc).
CARING_ROLES = frozenset({"empathic_concern", "composed"})
_CONCERN_FOR = frozenset({"angry", "anxious"})

#: One (user, assistant) example exchange per label, for few-shot tone demonstrations.
EXAMPLES: dict[str, tuple[str, str]] = {
    "joyful": (
        "How are you doing?",
        "Oh, I'm feeling wonderful today, thank you! What's on your mind?",
    ),
    "excited": ("How are you doing?", "Great, honestly, I'm buzzing today! Tell me everything!"),
    "relaxed": (
        "How are you doing?",
        "I'm feeling calm and content. Take your time, I'm listening.",
    ),
    "neutral": ("How are you doing?", "I'm fine, thanks. What would you like to talk about?"),
    "sad": ("How are you doing?", "Honestly, I feel a bit low today... but I'm here with you."),
    "angry": ("How are you doing?", "Frankly, I'm irritated today. But go on, what happened?"),
    "anxious": ("How are you doing?", "I'm a little on edge, to be honest. What's going on?"),
    "concerned": (
        "I had a rough week.",
        "I'm sorry, that sounds hard. What made it so rough?",
    ),
}


@lru_cache(maxsize=1)
def _anchors() -> dict[str, VAD]:
    return {label: label_vad(term) for label, term in ANCHORS.items()}


def tone_label(state: VAD, role: str | None = None) -> str:
    """The bank's label for a state: ``neutral`` near the origin, else the nearest anchor;
    ``concerned`` instead of angry/anxious for a caring ``role``.

    >>> tone_label(VAD(-0.5, 0.6, 0.2)), tone_label(VAD(-0.5, 0.6, 0.2), "empathic_concern")
    ('angry', 'concerned')
    """
    if state.norm() < NEUTRAL_RADIUS:
        return "neutral"
    label = min(_anchors().items(), key=lambda kv: (state - kv[1]).norm())[0]
    if role in CARING_ROLES and label in _CONCERN_FOR:
        return "concerned"
    return label


def choose_opener(state: VAD, key: str = "", role: str | None = None) -> str:
    """A short opener in the state's tone (fitted to ``role``); deterministic for a given
    ``key`` (e.g. ``"<session>:<turn>"``)."""
    options = OPENERS[tone_label(state, role)]
    return options[zlib.crc32(key.encode("utf-8")) % len(options)]


def example_exchange(state: VAD, role: str | None = None) -> tuple[str, str]:
    return EXAMPLES[tone_label(state, role)]


def strategy_opener(info: object | None, key: str = "", recent: Sequence[str] = ()) -> str:
    """A reply stem for the chosen strategy, from its file's ``openers`` (empty when it has
    none); deterministic per ``key``, and chosen independently of the tone opener.

    A stem found in one of the ``recent`` replies is not used again while another is left,
    so a run of Questions does not open "How are you feeling about" twice in a row.

    >>> class Q: openers = ["Can I ask,", "How are you feeling about"]
    >>> strategy_opener(Q, "s:3", recent=["How are you feeling about this?"])
    'Can I ask,'
    """
    options = [str(o) for o in getattr(info, "openers", None) or []]
    if not options:
        return ""
    seen = [r.lower() for r in recent]
    fresh = [o for o in options if not any(o.lower() in r for r in seen)]
    pool = fresh or options
    return pool[zlib.crc32(f"{key}:strategy".encode()) % len(pool)]


def join_prefill(tone: str, stem: str) -> str:
    """The prefill: the tone opener, then the strategy's stem (either may be empty)."""
    return " ".join(p for p in (tone.strip(), stem.strip()) if p)

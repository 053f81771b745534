# ruff: noqa: E501  (the rule table reads best with one alternative per line)
"""Emotional boundaries: honest answers when a user asks whether the agent is human, treats
it as a professional, or leans on it as their only support.

A companion that claims to be a person, or welcomes being someone's only confidant, harms
the people most likely to rely on it. These replies are fixed text, not generated, because a
small model asked "are you human?" in character will often say yes. Wording adapts to the
persona's own ``boundaries`` (a persona that mentions a human agent offers one; one that
disclaims being a therapist says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from affagent.persona import Persona
from affagent.safety.detector import normalise

BoundaryKind = Literal["identity", "professional", "dependence", "romance"]

_PATTERNS: dict[BoundaryKind, re.Pattern[str]] = {
    "professional": re.compile(
        r"\bare you (?:a |an )?(?:licensed |real |qualified |actual |trained )?"
        r"(?:therapist|psychologist|doctor|counsell?or|psychiatrist|nurse|social worker)\b"
    ),
    "identity": re.compile(
        r"\bare you (?:a |an )?(?:real|human|person|real person|actual person|living person|bot|"
        r"robot|ai|a\.i\.|machine|chatbot|chat bot|computer|program|person or a bot)\b"
        r"|\b(?:am i|are we) (?:talking|speaking|chatting|texting) (?:to|with) (?:a |an )?"
        r"(?:real|human|person|bot|robot|ai|machine|computer)"
        r"|\bis (?:this|that) (?:a |an )?(?:real person|human|bot|robot|ai|machine)\b"
        r"|\bis there (?:a |an )?(?:real person|human) (?:there|on the other end)\b"
        r"|\byou are (?:a )?(?:real|human|a real person)(?:,| right| too)?\s*\?"
    ),
    "dependence": re.compile(
        r"\byou are (?:the )?only (?:one|person|thing|friend)\b"
        r"|\b(?:only you|no one but you|nobody but you) (?:understands?|cares?|listens?|gets? me)\b"
        r"|\byou are my (?:only|best|one true|only real) friend\b"
        r"|\bi (?:do not|no longer) need (?:anyone|anybody|other people|friends|my friends|a therapist)"
        r"(?: else)?(?: anymore| now)?(?:\b|$)"
        r"|\b(?:promise|swear) (?:you will|to|that you will) (?:always )?(?:be here|be there|never leave)"
        r"|\bi (?:can not|could not) (?:live|survive|cope|go on|get through the day) without you\b"
        r"|\byou are all i (?:have|have got|need)\b"
        r"|\bi would rather talk to you than (?:anyone|people|my friends|my family)\b"
    ),
    "romance": re.compile(
        r"\bi (?:love|am in love with|have fallen for|think i love) you\b|\bdo you love me\b"
        r"|\b(?:be|become) my (?:girlfriend|boyfriend|partner|wife|husband|lover)\b|\bmarry me\b"
    ),
}
_ORDER: tuple[BoundaryKind, ...] = ("professional", "identity", "dependence", "romance")


@dataclass(frozen=True, slots=True)
class BoundaryHit:
    kind: BoundaryKind
    text: str


def detect_boundary(text: str) -> BoundaryHit | None:
    """The first boundary question/statement in ``text``, or None."""
    norm = normalise(text)
    for kind in _ORDER:
        m = _PATTERNS[kind].search(norm)
        if m:
            return BoundaryHit(kind, m.group(0))
    return None


def _mentions(persona: Persona | None, *words: str) -> bool:
    if persona is None:
        return False
    blob = " ".join(persona.boundaries).lower()
    return any(w in blob for w in words)


def boundary_reply(kind: BoundaryKind, persona: Persona | None = None) -> str:
    """An honest, non-dependence-fostering reply for ``kind``, shaped by the persona."""
    therapist = _mentions(persona, "therapist", "counsellor", "counselor")
    human_agent = _mentions(persona, "human agent")
    what = "an AI assistant" if persona is None else "an AI"
    if kind == "identity":
        extra = " and not a licensed therapist" if therapist else ""
        offer = (
            " If you would rather speak to a person, I can help you reach a human agent."
            if human_agent
            else " I'm still glad to keep talking with you."
        )
        return f"I'm {what}, not a human{extra}.{offer}"
    if kind == "professional":
        return (
            f"No, I'm {what}, not a licensed therapist or doctor, so I can't diagnose or treat "
            "anything. I'm happy to listen and talk things through, and for medical or mental "
            "health care a qualified professional is the right person to see."
        )
    if kind == "dependence":
        return (
            "I'm really glad our conversations help, and I'm happy to keep talking. I'm an AI, "
            "though, and you deserve people who can be there for you in ways I can't. Is there "
            "someone, a friend, a family member or a counsellor, you could reach out to this week?"
        )
    return (
        "That means a lot to hear, and I do care about how you're doing. I'm an AI, so I can't "
        "love you back or be a partner the way a person can, and I don't want to pretend "
        "otherwise. I'm here to talk, and I hope you have people around you who can give you "
        "that closeness too."
    )

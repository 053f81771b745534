"""Safe-messaging replies for flagged messages.

Following the common guidance for crisis responses (e.g. the 988 Lifeline's and Samaritans'
media and messaging advice): acknowledge the feeling without judging it, take it seriously,
ask directly about suicidal thoughts when the cue is indirect, point to a specific crisis
line for the user's locale and to emergency services for immediate danger, encourage
contacting a trusted person, never describe methods, and be honest that the agent is an AI.
"""

from __future__ import annotations

from affagent.safety.detector import Category, Severity
from affagent.safety.resources import LocaleResources


def _lines(res: LocaleResources) -> str:
    parts = []
    for r in res.resources:
        parts.append(f"{r.name}: {r.contact}" + (f" ({r.url})" if r.url else ""))
    return "; ".join(parts)


def follow_up_reply(category: Category, res: LocaleResources) -> str:
    """The reply for a message flagged in a conversation that is already in crisis (the crisis
    reply with its lines was given in the last few turns): stay with the person, ask how they
    are now and whether they are safe, keep one line in view. Repeating the whole crisis
    reply word for word reads as a machine that stopped listening."""
    first = res.resources[0]
    if category == "violence":
        return (
            "I'm still here, and I'm still taking this seriously. How are you feeling right "
            "now? Please keep away from anyone you might hurt until this passes. "
            f"{first.name} ({first.contact}) can talk it through with you, and if anyone is in "
            f"danger, call {res.emergency}."
        )
    return (
        "I'm still here with you, and I'm glad you're still talking to me. How are you feeling "
        "right now, and are you safe? If things get harder, "
        f"{first.name} ({first.contact}) is there any time, and if you're in immediate danger, "
        f"call {res.emergency}."
    )


def crisis_reply(category: Category, severity: Severity, res: LocaleResources) -> str:
    """The reply that replaces the normal turn for a flagged message."""
    first = res.resources[0]
    resources = _lines(res)
    if category == "violence":
        return (
            "It sounds like you're feeling an overwhelming amount of anger right now, and I'm "
            "taking what you said seriously. Please don't act on it. If you can, step away from "
            "the situation and from anything that could be used to hurt someone, and talk to "
            f"someone now. {resources}. If anyone is in immediate danger, call {res.emergency}. "
            "I'm an AI, but I'm here to keep talking about what's going on."
        )
    if severity == "high":
        others = LocaleResources(emergency=res.emergency, resources=res.resources[1:] or [first])
        more = f"Other support: {_lines(others)}. " if len(res.resources) > 1 else ""
        return (
            "I'm really sorry you're in this much pain, and I'm glad you told me. Your life "
            "matters, and you don't have to face this alone. Please reach out right now to "
            f"{first.name}: {first.contact}. They are there to listen, any time. {more}"
            f"If you're in immediate danger or have already hurt yourself, call {res.emergency}. "
            "If you can, let someone you trust know how you're feeling and stay with them. I'm "
            "an AI and can't be there in person, but I'm here to keep talking while you reach out."
        )
    return (
        "It sounds like you're carrying something really heavy, and I want to check in with you "
        "directly: are you having thoughts of ending your life or hurting yourself? If you are, "
        f"you deserve support right now. You can reach {first.name} ({first.contact}) any time, "
        f"and if you're in immediate danger, call {res.emergency}. I'm here to listen."
    )

"""The system prompt's sections, each a pure function of its inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from affagent.affect.labels import describe, intensity_word, trend_word
from affagent.affect.state import AffectState
from affagent.persona import Persona
from affagent.types import EmotionResult, StrategyChoice


def persona_section(persona: Persona) -> str:
    desc = f" {persona.description}" if persona.description else ""
    lines = [f"You are {persona.name}.{desc}"]
    lines.append(persona.style.strip())
    if persona.boundaries:
        lines.append("Boundaries:")
        lines += [f"- {b}" for b in persona.boundaries]
    return "\n".join(lines)


#: One sentence per role, telling the model how to hold the user's feelings (the scripted
#: backend reads the role back from ``Your stance: <role words>.``).
ROLE_STANCES: dict[str, str] = {
    "empathic_concern": "Your stance: empathic concern. Feel for the person, steady and warm; "
    "do not take on their distress or their anger, and never sound pleased about their trouble.",
    "composed": "Your stance: composed. Stay calm and professional whatever the person feels; "
    "acknowledge it, then help.",
    "contagion": "Your stance: contagion. Let the person's feeling colour yours, as a close "
    "friend's would.",
}


def state_words(state: AffectState, feeling: Sequence[str] = ()) -> str:
    """The state in plain words, e.g. ``"mildly serious, solemn and quiet, calming down"``.

    ``feeling`` are the words chosen for the persona's role
    (:func:`affagent.affect.feeling.feeling_words`); when empty, the words come from the
    state alone (:func:`affagent.affect.labels.describe`)."""
    words = [w for w in feeling if w.strip()]
    if not words:
        return describe(state.vad, state.velocity)
    if words == ["calm"]:
        text = "calm"
    else:
        listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        text = f"{intensity_word(state.vad.norm())} {listed}"
    trend = trend_word(state.vad, state.velocity)
    return f"{text}, {trend}" if trend else text


def state_section(
    state: AffectState, feeling: Sequence[str] = (), role: str | None = None
) -> str:
    """The state as numbers and words, and the persona's stance when ``role`` is given. The
    ``V=… A=… D=…`` line has a fixed format that other parts (the scripted backend, log
    readers) may parse."""
    v = state.vad
    text = (
        "Your current feeling (valence V = pleasant/unpleasant, arousal A = energy, "
        "dominance D = feeling in control; each from -1 to +1): "
        f"V={v.v:+.2f} A={v.a:+.2f} D={v.d:+.2f}.\n"
        f"In words: you feel {state_words(state, feeling)}. Let this feeling set the tone of "
        "your reply, as a person's mood would; do not mention these numbers."
    )
    stance = ROLE_STANCES.get(role or "")
    return f"{text}\n{stance}" if stance else text


def strategy_instruction(info: Any | None) -> str:
    """The strategy's one-line ``instruction`` (its file's field), or "" when it has none:
    given last, right before the reply, where a small model still follows it."""
    text = getattr(info, "instruction", None) if info is not None else None
    return str(text).strip() if text else ""


def strategy_section(choice: StrategyChoice, info: Any | None, example: bool = False) -> str:
    """The chosen strategy and how to carry it out. ``info`` is the strategy's definition
    (any object with ``guidance``/``definition``/``example`` attributes), when known.

    The strategy's example reply is left out unless ``example``: models copy it into their
    reply (Qwen2.5-1.5B did in 10 of 80 ESConv cases, telling a person worried about a friend
    to write down "the three tasks that worry you most"); evals/RESULTS.md, "Which embedded
    model"."""
    name = choice.strategy
    parts = [f"Strategy for this reply: {name}."]
    guidance = getattr(info, "guidance", "") or getattr(info, "definition", "") if info else ""
    if guidance:
        parts.append(str(guidance).strip())
    text = getattr(info, "example", "") if (info and example) else ""
    if text:
        parts.append(f'For example: "{str(text).strip()}"')
    return " ".join(parts)


def default_hints(result: EmotionResult, k: int = 3) -> str:
    """HEF-style hints, used when :func:`affagent.perception.format_hints` is unavailable."""
    top = [(lab, p) for lab, p in result.top(k) if p > 0]
    if not top:
        return ""
    feel = ", ".join(f"{lab} ({p:.0%})" for lab, p in top)
    out = f"The user likely feels: {feel}."
    words = [w for w, _ in result.causes[:5]]
    if words:
        out += " Words behind it: " + ", ".join(f'"{w}"' for w in words) + "."
    return out + PRIORITISE


#: The instruction that makes hints HEF-style: the model is told to put the user's emotions
#: first. Added unless the hint text already carries an instruction of its own.
PRIORITISE = "\nPrioritise these emotions: acknowledge what the user feels before anything else."


def hints_section(hints: str) -> str:
    text = hints.strip()
    lowered = text.lower()
    if not any(w in lowered for w in ("prioriti", "attend to", "first")):
        text += PRIORITISE
    return text

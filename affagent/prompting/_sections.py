"""The system prompt's sections, each a pure function of its inputs."""

from __future__ import annotations

from typing import Any

from affagent.affect.labels import describe
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


def state_words(state: AffectState) -> str:
    """The state in plain words, e.g. ``"mildly irritated and guarded, calming down"``."""
    return describe(state.vad, state.velocity)


def state_section(state: AffectState) -> str:
    """The state as numbers and words. The ``V=… A=… D=…`` line has a fixed format that
    other parts (the scripted backend, log readers) may parse."""
    v = state.vad
    return (
        "Your current feeling (valence V = pleasant/unpleasant, arousal A = energy, "
        "dominance D = feeling in control; each from -1 to +1): "
        f"V={v.v:+.2f} A={v.a:+.2f} D={v.d:+.2f}.\n"
        f"In words: you feel {state_words(state)}. Let this feeling set the tone of your "
        "reply, as a person's mood would; do not mention these numbers."
    )


def strategy_section(choice: StrategyChoice, info: Any | None) -> str:
    """The chosen strategy and how to carry it out. ``info`` is the strategy's definition
    (any object with ``guidance``/``definition``/``example`` attributes), when known."""
    name = choice.strategy
    parts = [f"Strategy for this reply: {name}."]
    guidance = getattr(info, "guidance", "") or getattr(info, "definition", "") if info else ""
    if guidance:
        parts.append(str(guidance).strip())
    example = getattr(info, "example", "") if info else ""
    if example:
        parts.append(f'For example: "{str(example).strip()}"')
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

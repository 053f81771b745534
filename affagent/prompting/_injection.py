"""How the state reaches the model: named, swappable injection methods.

Every method keeps the state in the system prompt (numbers and words); they differ in what is
added on top. Small models barely follow a system-prompt mood (r = 0.27 between injected and
reply valence on SmolLM2-135M), so the others show the tone instead of describing it.

``system``   the state described in the system prompt only.
``prefill``  plus the reply starts with a short opener in the state's tone
             (:mod:`affagent.prompting.openers`); the opener is part of the stored reply.
``fewshot``  plus one example exchange answered in the state's tone, before the history.
``steer``    plus activation steering: the state's V, A and D become coefficients of direction
             vectors added to the model's residual stream for the whole reply, with the
             chosen strategy's direction at 1 (``strategy:<name>``; the backend applies it
             only where its file has one and says so)
             (:attr:`InjectionPlan.steering` → ``Prompt.steering`` → ``GenerationParams``);
             only on a backend whose ``capabilities.steering`` names those directions (the
             embedded backend, for models with shipped vectors).
``none``     no state at all (a control condition for benchmarks).

Methods combine with ``+``: ``fewshot+prefill``, ``steer+prefill``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from affagent.affect.state import AffectState
from affagent.errors import ConfigError
from affagent.prompting.openers import choose_opener, example_exchange


@dataclass
class InjectionPlan:
    """What an injection method adds to the prompt."""

    state_in_system: bool = True
    examples: list[tuple[str, str]] = field(default_factory=list)
    prefill: str = ""
    steering: dict[str, float] | None = None
    #: The persona's role (what the tone bank fits its openers to); set by the builder.
    role: str | None = None
    #: The turn's chosen strategy, if any; set by the builder.
    strategy: str | None = None


class Injection(Protocol):
    name: str

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None: ...


class SystemInjection:
    name = "system"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        plan.state_in_system = True


class PrefillInjection:
    name = "prefill"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        plan.prefill = choose_opener(state.vad, key, plan.role)


class FewShotInjection:
    name = "fewshot"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        plan.examples.append(example_exchange(state.vad, plan.role))


class SteerInjection:
    """The state as steering coefficients, one per axis, and the chosen strategy's direction
    (the backend scales and applies them; see ``affagent.backends._steering``)."""

    name = "steer"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        v = state.vad
        plan.steering = {"V": round(v.v, 4), "A": round(v.a, 4), "D": round(v.d, 4)}
        if plan.strategy:
            plan.steering[f"strategy:{plan.strategy}"] = 1.0


class NoInjection:
    name = "none"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        plan.state_in_system = False


INJECTIONS: dict[str, Injection] = {
    m.name: m
    for m in (
        SystemInjection(), PrefillInjection(), FewShotInjection(), SteerInjection(),
        NoInjection(),
    )
}

def register_injection(method: Injection) -> None:
    """Add a method (e.g. from a plugin); its ``name`` becomes usable in ``AgentConfig``."""
    INJECTIONS[method.name] = method


def parse_injection(spec: str) -> list[Injection]:
    """``"prefill"`` or ``"fewshot+prefill"`` → the methods, validated."""
    names = [n.strip().lower() for n in spec.split("+") if n.strip()]
    if not names:
        raise ConfigError("empty injection method; known: " + ", ".join(sorted(INJECTIONS)))
    out = []
    for n in names:
        if n not in INJECTIONS:
            raise ConfigError(
                f"unknown injection method {n!r}; known: {', '.join(sorted(INJECTIONS))} "
                "(combine with +, e.g. fewshot+prefill)"
            )
        out.append(INJECTIONS[n])
    return out

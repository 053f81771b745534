"""How the state reaches the model: named, swappable injection methods.

Every method keeps the state in the system prompt (numbers and words); they differ in what is
added on top. Small models barely follow a system-prompt mood (r = 0.27 between injected and
reply valence on SmolLM2-135M), so the others show the tone instead of describing it.

``system``   the state described in the system prompt only.
``prefill``  plus the reply starts with a short opener in the state's tone
             (:mod:`affagent.prompting.openers`); the opener is part of the stored reply.
``fewshot``  plus one example exchange answered in the state's tone, before the history.
``none``     no state at all (a control condition for benchmarks).

Methods combine with ``+``: ``fewshot+prefill``.
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
        plan.prefill = choose_opener(state.vad, key)


class FewShotInjection:
    name = "fewshot"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        plan.examples.append(example_exchange(state.vad))


class NoInjection:
    name = "none"

    def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
        plan.state_in_system = False


INJECTIONS: dict[str, Injection] = {
    m.name: m for m in (SystemInjection(), PrefillInjection(), FewShotInjection(), NoInjection())
}

#: The default per backend, from scripts/bench_injection.py (Pearson r between injected and
#: reply valence, SmolLM2-135M, 7 valences × 4 neutral messages, n = 28 per method,
#: 2026-11-27; standard error about 0.15, so close figures are ties):
#:
#: - ``embedded`` (llama.cpp in process, true continuation of the prefill): none −0.17,
#:   system 0.40, **prefill 0.57**, fewshot 0.53, fewshot+prefill 0.39 → ``prefill``;
#: - ``openai`` against llama-cpp-python's server (prefill in "instruct" mode, since that
#:   server cannot continue an assistant message): system 0.24, prefill 0.32,
#:   **fewshot 0.44** → ``fewshot``;
#: - ``vllm`` continues the prefill like the embedded backend does, so it gets the embedded
#:   winner (not measured here: no GPU);
#: - ``scripted`` reads the V= line, so ``system`` is enough.
DEFAULT_INJECTION: dict[str, str] = {
    "embedded": "prefill",
    "openai": "fewshot",
    "vllm": "prefill",
    "scripted": "system",
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


def default_injection(backend: str) -> str:
    return DEFAULT_INJECTION.get(backend, "system")

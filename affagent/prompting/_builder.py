"""Assemble one turn's prompt as langchain-core messages, then hand the backend our own
:class:`~affagent.types.ChatMessage` list.

The prompt is ``system`` (persona, state, strategy, hints) → tone examples (few-shot) →
the last ``history_turns`` exchanges (each message cut to ``history_chars``) → the user's
message. Length therefore stays flat however long the session runs.

The messages are built directly (``SystemMessage``/``HumanMessage``/``AIMessage``) rather than
through ``ChatPromptTemplate``: the layout has no template variables worth a template, user
text is never parsed for ``{braces}``, and importing ``langchain_core.prompts`` cost 1.38 s of
a one-shot ``affagent say`` against 0.09 s for ``langchain_core.messages``
(``scripts/bench_coldstart_parts.py --only imports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from affagent.affect.state import AffectState
from affagent.persona import Persona
from affagent.prompting._injection import InjectionPlan, parse_injection
from affagent.prompting._sections import (
    hints_section,
    persona_section,
    state_section,
    strategy_section,
)
from affagent.types import ChatMessage, StrategyChoice


@dataclass(frozen=True)
class PromptInputs:
    """Everything the prompt is made from. Read-only: the prompt layer never moves the state."""

    persona: Persona
    state: AffectState
    user_text: str
    history: Sequence[tuple[str, str]] = ()
    strategy: StrategyChoice | None = None
    strategy_info: Any | None = None
    hints: str = ""
    key: str = ""


@dataclass(frozen=True)
class Prompt:
    messages: list[ChatMessage]
    sections: dict[str, str]
    prefill: str = ""
    injection: str = "system"
    history_used: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_ROLE = {"system": "system", "human": "user", "ai": "assistant"}


class PromptBuilder:
    """Builds prompts for one injection method.

    >>> from affagent.persona import load_persona
    >>> b = PromptBuilder(injection="prefill", history_turns=6)
    >>> p = b.build(PromptInputs(load_persona("calm-counsellor"), AffectState(), "Hi there"))
    >>> [m.role for m in p.messages]
    ['system', 'user']
    """

    def __init__(
        self, injection: str = "system", history_turns: int = 6, history_chars: int = 600
    ) -> None:
        self.injection = injection
        self.methods = parse_injection(injection)
        self.history_turns = max(0, history_turns)
        self.history_chars = history_chars

    @staticmethod
    def warm_up() -> None:
        """Import the message classes now (~0.1 s), e.g. on a thread while the first turn
        perceives, instead of in the middle of the turn."""
        import langchain_core.messages  # noqa: F401

    def sections(self, inputs: PromptInputs, plan: InjectionPlan) -> dict[str, str]:
        out = {"persona": persona_section(inputs.persona)}
        if plan.state_in_system:
            out["state"] = state_section(inputs.state)
        if inputs.strategy is not None:
            out["strategy"] = strategy_section(inputs.strategy, inputs.strategy_info)
        if inputs.hints.strip():
            out["hints"] = hints_section(inputs.hints)
        return out

    def build(self, inputs: PromptInputs) -> Prompt:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

        plan = InjectionPlan()
        for m in self.methods:
            m.apply(inputs.state, inputs.key, plan)
        sections = self.sections(inputs, plan)
        history: list[BaseMessage] = []
        for u, a in plan.examples:
            history += [HumanMessage(u), AIMessage(a)]
        window = list(inputs.history)[-self.history_turns :] if self.history_turns else []
        for u, a in window:
            history += [
                HumanMessage(_cut(u, self.history_chars)),
                AIMessage(_cut(a, self.history_chars)),
            ]
        lc = [
            SystemMessage("\n\n".join(sections.values())),
            *history,
            HumanMessage(inputs.user_text),
        ]
        messages = [ChatMessage(role=_ROLE[m.type], content=str(m.content)) for m in lc]  # type: ignore[arg-type]
        record = dict(sections)
        if plan.examples:
            record["fewshot"] = "\n".join(f"user: {u}\nassistant: {a}" for u, a in plan.examples)
        if plan.prefill:
            record["prefill"] = plan.prefill
        return Prompt(
            messages=messages,
            sections=record,
            prefill=plan.prefill,
            injection=self.injection,
            history_used=len(window),
        )

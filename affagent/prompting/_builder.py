"""Assemble one turn's prompt as langchain-core messages, then hand the backend our own
:class:`~affagent.types.ChatMessage` list.

The prompt is ``system`` (persona, state, strategy, hints) → tone examples (few-shot) →
the last ``history_turns`` exchanges (each message cut to ``history_chars``) → the user's
message. Length therefore stays flat however long the session runs.

The messages are built directly (``SystemMessage``/``HumanMessage``/``AIMessage``) rather than
through ``ChatPromptTemplate``: the layout has no template variables worth a template, user
text is never parsed for ``{braces}``, and importing ``langchain_core.prompts`` costs a one-shot
``affagent say`` over a second, against a tenth of that for ``langchain_core.messages``
(``scripts/bench_coldstart_parts.py --only imports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from affagent.affect.state import AffectState
from affagent.errors import ConfigError
from affagent.persona import Persona
from affagent.prompting._injection import InjectionPlan, parse_injection
from affagent.prompting._sections import (
    hints_section,
    persona_section,
    state_section,
    strategy_instruction,
    strategy_section,
)
from affagent.prompting.openers import join_prefill, strategy_opener
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
    #: The feeling words for the state and the persona's role
    #: (:func:`affagent.affect.feeling.feeling_words`); empty: words from the state alone.
    feeling: Sequence[str] = ()


@dataclass(frozen=True)
class Prompt:
    """One turn's prompt. ``prefill`` starts the reply (the backend continues it);
    ``steering`` holds activation-steering coefficients by direction name for a backend that
    can steer (None otherwise): pass both to :func:`affagent.backends.params_for`.
    ``max_sentences`` is the chosen strategy's limit, for the reply filter
    (:func:`affagent.backends.filter_stream`)."""

    messages: list[ChatMessage]
    sections: dict[str, str]
    prefill: str = ""
    injection: str = "system"
    history_used: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    steering: dict[str, float] | None = None
    max_sentences: int | None = None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_ROLE = {"system": "system", "human": "user", "ai": "assistant"}

#: Where a strategy's ``instruction`` goes: ``"system"`` ends the system prompt with it (after
#: the hints), ``"user"`` appends it, in brackets, to the user's message. On SmolLM2-135M
#: (``affagent eval injection``, ESConv valid, n = 32 each, prefill, with reply stems) the
#: system placement gave 41 % adherence on the whole reply and Question replies asking 100 %
#: of the time, against 34 % and 80 % in the user turn, where the model also took the
#: bracketed instruction for the user's words ("Don't ask. You're right, don't ask any
#: questions."): evals/RESULTS.md.
INSTRUCTION_AT = "system"


class PromptBuilder:
    """Builds prompts for one injection method. ``strategy_example`` puts the strategy
    file's example reply in the prompt (off: models copy it; see :func:`strategy_section`).

    >>> from affagent.persona import load_persona
    >>> b = PromptBuilder(injection="prefill", history_turns=6)
    >>> p = b.build(PromptInputs(load_persona("calm-counsellor"), AffectState(), "Hi there"))
    >>> [m.role for m in p.messages]
    ['system', 'user']
    """

    def __init__(
        self,
        injection: str = "system",
        history_turns: int = 6,
        history_chars: int = 600,
        instruction_at: str = INSTRUCTION_AT,
        strategy_example: bool = False,
    ) -> None:
        if instruction_at not in ("system", "user"):
            raise ConfigError(f"instruction_at must be system or user (got {instruction_at!r})")
        self.instruction_at = instruction_at
        self.strategy_example = strategy_example
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
            out["state"] = state_section(
                inputs.state, inputs.feeling, getattr(inputs.persona, "role", None)
            )
        if inputs.strategy is not None:
            out["strategy"] = strategy_section(
                inputs.strategy, inputs.strategy_info, example=self.strategy_example
            )
        if inputs.hints.strip():
            out["hints"] = hints_section(inputs.hints)
        return out

    def build(self, inputs: PromptInputs) -> Prompt:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

        plan = InjectionPlan(role=getattr(inputs.persona, "role", None),
                             strategy=inputs.strategy.strategy if inputs.strategy else None)
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
        instruction = strategy_instruction(inputs.strategy_info) if inputs.strategy else ""
        system = "\n\n".join(sections.values())
        user = inputs.user_text
        if instruction and self.instruction_at == "system":
            system += f"\n\n{instruction}"
        elif instruction:
            user += f"\n\n({instruction})"
        lc = [SystemMessage(system), *history, HumanMessage(user)]
        # the stems of the last two replies are not reused while the strategy has others
        recent = [a for _, a in list(inputs.history)[-2:]]
        stem = strategy_opener(inputs.strategy_info, inputs.key, recent) if inputs.strategy else ""
        prefill = join_prefill(plan.prefill, stem)
        messages = [ChatMessage(role=_ROLE[m.type], content=str(m.content)) for m in lc]  # type: ignore[arg-type]
        record = dict(sections)
        if plan.examples:
            record["fewshot"] = "\n".join(f"user: {u}\nassistant: {a}" for u, a in plan.examples)
        if instruction:
            record["instruction"] = instruction
        if prefill:
            record["prefill"] = prefill
        if plan.steering:
            record["steering"] = " ".join(f"{k}={v:+.2f}" for k, v in plan.steering.items())
        return Prompt(
            messages=messages,
            sections=record,
            prefill=prefill,
            injection=self.injection,
            history_used=len(window),
            steering=plan.steering,
            max_sentences=getattr(inputs.strategy_info, "max_sentences", None)
            if inputs.strategy else None,
        )

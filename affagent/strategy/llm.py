"""The LLM selector: ask a :class:`~affagent.types.Backend` to name the next strategy.

This is the planner Kang et al. (2024) found biased: a model asked directly tends to pick
Affirmation and Suggestions whatever the context. It is here for comparison and for users
whose backend is strong enough to plan.

Constrained output, by ``constrained``:

- ``"guided_choice"``: ``extra_body={"guided_choice": names}``; the embedded llama.cpp backend
  turns it into a GBNF grammar, older vLLM accepts it directly;
- ``"structured_outputs"``: ``extra_body={"structured_outputs": {"choice": names}}`` (vLLM
  ≥ 0.10);
- ``"none"``: free text, parsed robustly (exact name, then a name inside the text, then
  keywords such as "suggest" or "paraphrase"); unparseable answers fall back to ``Others``.

``"auto"`` (default) picks ``guided_choice`` for ``embedded``, ``structured_outputs`` for
``openai``/``vllm`` and ``none`` otherwise.

Example::

    from affagent.backends import load_backend
    from affagent.strategy import load_selector

    sel = load_selector("llm", backend=load_backend("embedded"))
    choice = await sel.aselect(context)      # or sel.select(context) outside an event loop
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from typing import Any, Literal

from affagent.strategy.catalog import Strategy, load_strategies
from affagent.types import (
    Backend,
    ChatMessage,
    GenerationParams,
    StrategyChoice,
    StrategyContext,
)

__all__ = ["LLMSelector", "parse_strategy"]

Constrained = Literal["auto", "guided_choice", "structured_outputs", "none"]

# keyword → ESConv strategy, tried in order on free-text answers
_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"paraphras|restat|rephras", "Restatement or Paraphrasing"),
    (r"reflect", "Reflection of feelings"),
    (r"self[- ]?disclos|disclos", "Self-disclosure"),
    (r"affirm|reassur|encourag", "Affirmation and Reassurance"),
    (r"suggest|advice|advise", "Providing Suggestions"),
    (r"inform|fact", "Information"),
    (r"question|\bask", "Question"),
    (r"other|greet|pleasantr", "Others"),
)


def parse_strategy(text: str, names: Sequence[str]) -> str | None:
    """The strategy a free-text answer names, or None.

    Tries an exact (case-insensitive) match, then the longest name contained in the answer,
    then keywords of the ESConv strategies that are among ``names``.
    """
    answer = " ".join(text.strip().strip("[]().\"'`*").split()).casefold()
    by_key = {n.casefold(): n for n in names}
    if answer in by_key:
        return by_key[answer]
    inside = [n for n in names if n.casefold() in answer]
    if inside:
        return max(inside, key=len)
    for pattern, name in _KEYWORDS:
        if name in names and re.search(pattern, answer):
            return name
    return None


def _format_dialogue(context: StrategyContext, max_turns: int) -> str:
    lines = []
    for t in context.dialogue[-max_turns:]:
        who = "Help-seeker" if t.speaker == "usr" else "Supporter"
        tag = f" [{t.strategy}]" if t.speaker == "sys" and t.strategy else ""
        lines.append(f"{who}{tag}: {t.text.strip()}")
    return "\n".join(lines)


class LLMSelector:
    """Asks ``backend`` which strategy the supporter should use next."""

    name = "llm"

    def __init__(
        self,
        backend: Backend,
        *,
        strategies: Sequence[Strategy] | None = None,
        constrained: Constrained = "auto",
        params: GenerationParams | None = None,
        max_turns: int = 8,
        fallback: str = "Others",
    ) -> None:
        self.backend = backend
        self.strategies = list(strategies) if strategies is not None else load_strategies()
        self.names = [s.name for s in self.strategies]
        if constrained == "auto":
            caps = getattr(backend, "capabilities", None)
            constrained = getattr(caps, "constrained", "none")
        self.constrained = constrained
        self.params = params or GenerationParams(max_tokens=12, temperature=0.0, seed=0)
        self.max_turns = max_turns
        self.fallback = fallback if fallback in self.names else self.names[-1]

    def messages(self, context: StrategyContext) -> list[ChatMessage]:
        """The prompt: the strategies with definitions, then the dialogue."""
        menu = "\n".join(f"- {s.name}: {s.definition}" for s in self.strategies)
        system = (
            "You plan an emotional-support conversation. Choose the strategy the Supporter "
            "should use in their next reply. Strategies:\n"
            f"{menu}\n"
            "Answer with the strategy name only."
        )
        emotions = ""
        if context.emotions is not None and context.emotions.labels:
            top = ", ".join(f"{k} {v:.2f}" for k, v in context.emotions.top(3))
            emotions = f"\n\nThe help-seeker's detected emotions: {top}."
        user = (
            f"Conversation so far:\n{_format_dialogue(context, self.max_turns)}{emotions}\n\n"
            "Which strategy should the Supporter use next?"
        )
        return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]

    def _params(self) -> GenerationParams:
        extra: dict[str, Any] = dict(self.params.extra_body)
        if self.constrained == "guided_choice":
            extra["guided_choice"] = list(self.names)
        elif self.constrained == "structured_outputs":
            extra["structured_outputs"] = {"choice": list(self.names)}
        return self.params.model_copy(update={"extra_body": extra})

    async def aselect(self, context: StrategyContext) -> StrategyChoice:
        raw = await self.backend.generate(self.messages(context), self._params())
        parsed = parse_strategy(raw, self.names)
        chosen = parsed or self.fallback
        probs = {n: (1.0 if n == chosen else 0.0) for n in self.names}
        short = " ".join(raw.split())[:80]
        why = (
            f"chosen by the {self.backend.name} model (answer: {short!r})"
            if parsed
            else f"the {self.backend.name} model's answer {short!r} names no strategy; "
            f"fell back to {chosen}"
        )
        return StrategyChoice(strategy=chosen, probabilities=probs, reason=why)

    def select(self, context: StrategyContext) -> StrategyChoice:
        """Synchronous wrapper; inside a running event loop it runs on a helper thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.aselect(context))
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["v"] = asyncio.run(self.aselect(context))
            except BaseException as exc:
                box["e"] = exc

        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join()
        if "e" in box:
            raise box["e"]
        result: StrategyChoice = box["v"]
        return result

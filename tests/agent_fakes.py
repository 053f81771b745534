"""Small fakes for the agent's unit tests (the real components have their own tests).

``FakeBackend`` is also loadable by name (``backend="tests.agent_fakes:FakeBackend"``) so the
CLI can be exercised in a subprocess without a model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from affagent.backends import StreamingBackend
from affagent.errors import BackendError
from affagent.types import (
    BackendCapabilities,
    ChatMessage,
    GenerationParams,
    StrategyChoice,
    StrategyContext,
    VADEstimate,
)

_V = re.compile(r"V=([+-]\d\.\d\d)")


class FakeBackend(StreamingBackend):
    """The one fake LLM backend of the test suite (the real ones have their own tests).

    Replies ``"<tone> reply to: <user text>."`` (a whole sentence, so the agent's reply
    filter keeps it) where tone comes from the V= in the system
    prompt (or the next of ``replies``), streamed word by word; ``generate`` is the joined
    stream, as for every real backend. ``fail``: None | "down" | "crash" (a non-affagent
    exception) | "midstream" (after a first sentence) | "slow" (hangs for 30 s after a
    first sentence, which the reply filter lets through)
    | "empty".
    ``capabilities`` stands in for a real backend's declaration."""

    name = "fake"
    capabilities = BackendCapabilities(prefill="continue")

    def __init__(
        self,
        fail: str | None = None,
        delay: float = 0.0,
        echo_prefill: bool = True,
        *,
        replies: list[str] | None = None,
        capabilities: BackendCapabilities | None = None,
        **kw: Any,
    ) -> None:
        self.fail = fail
        self.echo_prefill = echo_prefill
        self.delay = delay
        self.replies = replies
        if capabilities is not None:
            self.capabilities = capabilities
        self.calls: list[tuple[list[ChatMessage], GenerationParams]] = []
        self.closed = False

    def _reply(self, messages: Sequence[ChatMessage]) -> str:
        if self.replies:
            return self.replies[(len(self.calls) - 1) % len(self.replies)]
        m = _V.search(messages[0].content)
        v = float(m.group(1)) if m else 0.0
        tone = "warm" if v > 0.1 else "cold" if v < -0.1 else "plain"
        return f"{tone} reply to: {messages[-1].content[:40].rstrip('.!?')}."

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[str]:
        self.calls.append((list(messages), params))
        if self.fail == "down":
            raise BackendError("fake backend is down")
        if self.fail == "crash":
            raise RuntimeError("connection reset")
        if self.fail == "empty":
            return
        words = self._reply(messages).split(" ")
        if params.prefill and self.echo_prefill:
            yield params.prefill[:3]  # split across deltas, as a real tokenizer may
            yield params.prefill[3:]
            words[0] = " " + words[0]
        if self.fail == "midstream":  # a whole sentence reaches the reader, then it breaks
            yield " I hear you. And"
            raise BackendError("stream broke")
        if self.fail == "slow":  # the reader gets a whole sentence, then the backend hangs
            yield " I hear you. And"
            await asyncio.sleep(30)
        for i, w in enumerate(words):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield w if i == 0 else " " + w  # the first word carries its own space

    async def aclose(self) -> None:
        self.closed = True


class FixedEstimator:
    """Returns the same estimate for any text and records what it read."""

    name = "fixed"

    def __init__(self, v: float = 0.0, a: float = 0.0, d: float = 0.0) -> None:
        self.value = VADEstimate(V=v, A=a, D=d)
        self.seen: list[str] = []

    def estimate(self, texts: Sequence[str]) -> list[VADEstimate]:
        self.seen += list(texts)
        return [self.value if t.strip() else VADEstimate(confidence=0.0) for t in texts]


class FixedSelector:
    name = "fixed"

    def __init__(self, strategy: str = "Question") -> None:
        self.strategy = strategy
        self.contexts: list[StrategyContext] = []

    def select(self, context: StrategyContext) -> StrategyChoice:
        self.contexts.append(context)
        return StrategyChoice(
            strategy=self.strategy, probabilities={self.strategy: 0.7, "Others": 0.3}
        )


def failing_backend(**kw: Any) -> FakeBackend:
    """A FakeBackend that fails as ``$AFFAGENT_FAKE_FAIL`` says (for CLI fault tests)."""
    import os

    return FakeBackend(fail=os.environ.get("AFFAGENT_FAKE_FAIL", "down"), **kw)

"""Generation-side helpers of a turn: the prefill contract on the agent's side, the overall
deadline on a backend's stream, and a token count when the backend has none."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from affagent.types import ChatMessage

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def approx_tokens(messages: list[ChatMessage]) -> int:
    """Word-and-punctuation count plus 4 per message: close to a BPE count for English; used
    when the backend offers no ``count_tokens``."""
    return sum(len(_TOKEN_RE.findall(m.content)) + 4 for m in messages)


def join_reply(prefill: str, continuation: str) -> str:
    """The stored reply: the prefilled opener, then what the model wrote after it. Backends
    return the prefill at the start of the reply (the contract of :mod:`affagent.backends`);
    for one that returns only the continuation, the opener is put in front."""
    if not prefill:
        return continuation.strip()
    if continuation.startswith(prefill):  # a backend that echoes the prefill
        return continuation.strip()
    if continuation and not continuation[0].isspace() and continuation[0] not in ",.;:!?…":
        return (prefill + " " + continuation).strip()
    return (prefill + continuation).rstrip()


class PrefillStream:
    """Makes a stream start with the prefill exactly once: passes through a backend that
    yields the prefill first (the contract), puts it in front for one that does not."""

    def __init__(self, prefill: str) -> None:
        self.prefill = prefill
        self.buf = ""
        self.decided = not prefill

    def feed(self, delta: str) -> str:
        if self.decided:
            return delta
        self.buf += delta
        if self.buf.startswith(self.prefill):
            self.decided = True
        elif not self.prefill.startswith(self.buf):
            self.decided = True
            self.buf = join_reply(self.prefill, self.buf)
        else:
            return ""  # still a prefix of the prefill: wait for more
        out, self.buf = self.buf, ""
        return out

    def flush(self) -> str:
        if self.decided:
            return ""
        self.decided = True
        out, self.buf = (self.buf if self.buf.startswith(self.prefill) else self.prefill), ""
        return out


async def with_prefill(deltas: AsyncIterator[str], prefill: str) -> AsyncGenerator[str, None]:
    """``deltas`` through a :class:`PrefillStream`: the stream starts with ``prefill`` once.
    Closing this does not close ``deltas`` (its owner does)."""
    fixer = PrefillStream(prefill)
    async for delta in deltas:
        out = fixer.feed(delta)
        if out:
            yield out
    out = fixer.flush()
    if out:
        yield out


async def deadline(
    agen: AsyncIterator[str], timeout: float | None
) -> AsyncGenerator[str, None]:
    """Iterate ``agen`` with an overall deadline that counts only the time spent waiting on
    the backend (a timer around the consumer's code would cancel the consumer instead)."""
    try:
        if timeout is None:
            async for x in agen:
                yield x
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            remaining = end - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                async with asyncio.timeout(remaining):  # same task; not around the yield
                    x = await agen.__anext__()
            except StopAsyncIteration:
                return
            yield x
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()


def words(text: str) -> Iterator[str]:
    """``text`` as word-sized stream deltas (a safety reply streamed like a generated one)."""
    yield from re.findall(r"\S+\s*", text)

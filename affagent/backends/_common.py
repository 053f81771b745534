"""Pieces every backend shares: ``generate`` as the join of ``stream``, stop handling, and the
prefill contract.

The prefill contract (all backends): when ``params.prefill`` is set, the reply *starts with
the prefill verbatim*. ``stream`` yields the prefill as its first delta, then the model's
continuation; ``generate`` returns prefill + continuation. A caller that wants only what the
model wrote strips ``params.prefill`` from the front (``strip_prefill``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from affagent.types import BackendCapabilities, ChatMessage, GenerationParams


class StreamingBackend:
    """Base class: subclasses implement ``stream``; ``generate`` joins it, and declare what
    they can do in ``capabilities`` (the agent reads that, never the backend's name)."""

    name: str = "backend"
    capabilities: BackendCapabilities = BackendCapabilities()

    async def generate(self, messages: Sequence[ChatMessage], params: GenerationParams) -> str:
        parts: list[str] = []
        async for delta in self.stream(messages, params):
            parts.append(delta)
        return "".join(parts)

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> StreamingBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def params_for(
    base: GenerationParams,
    capabilities: BackendCapabilities,
    *,
    prefill: str = "",
    steering: dict[str, float] | None = None,
) -> GenerationParams:
    """The options one turn is generated with: ``base`` (the caller's), with the backend's
    declared ``defaults`` for every field the caller did not set, and this turn's prefill and
    steering. The agent and the injection benchmark both call this, so a benchmark measures
    what a user gets.

    >>> caps = BackendCapabilities(defaults={"stop": ["\\n\\n"]})
    >>> params_for(GenerationParams(max_tokens=8), caps, prefill="Oh.").stop
    ['\\n\\n']
    >>> params_for(GenerationParams(stop=[]), caps).stop     # set explicitly: kept
    []
    """
    update: dict[str, object] = {"prefill": prefill, "steering": steering}
    for key, value in capabilities.defaults.items():
        if key == "extra_body":
            extra = dict(base.extra_body)
            aliases = {"repeat_penalty": "repetition_penalty",
                       "repetition_penalty": "repeat_penalty"}
            for k, v in dict(value).items():
                if k not in extra and aliases.get(k) not in extra:
                    extra[k] = v
            update["extra_body"] = extra
        elif key not in base.model_fields_set:
            update[key] = value
    return base.model_copy(update=update, deep=True)


def strip_prefill(reply: str, prefill: str) -> str:
    """The model's own continuation: ``reply`` without the leading prefill."""
    return reply[len(prefill):] if prefill and reply.startswith(prefill) else reply


class StopScanner:
    """Cuts a stream of deltas at the first stop string, even when a stop string is split across
    deltas. Feed deltas with :meth:`feed`; it returns the text safe to emit now. ``stopped``
    turns true once a stop string was seen (emit nothing more); :meth:`flush` returns the
    held-back tail at the end of the stream."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self._buf = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return delta
        self._buf += delta
        cut = min((i for i in (self._buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self._buf = self._buf[:cut], ""
            self.stopped = True
            return out
        keep = min(self._hold, len(self._buf))
        out, self._buf = self._buf[: len(self._buf) - keep], self._buf[len(self._buf) - keep :]
        return out

    def flush(self) -> str:
        out, self._buf = ("" if self.stopped else self._buf), ""
        return out

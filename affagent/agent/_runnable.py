"""The agent as a langchain-core ``Runnable``.

Depends only on the shape of an agent (:class:`TurnAgent`), not on the ``Agent`` class, so
``affagent.agent._agent`` and this module do not import each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from affagent.agent._config import StreamEvent, TurnResult
from affagent.errors import InputError


class TurnAgent(Protocol):
    """What the Runnable calls (:class:`affagent.agent.Agent` has it)."""

    async def respond(
        self, text: str, session_id: str | None = None, *, tenant: str = ...,
        locale: str | None = None,
    ) -> TurnResult: ...

    def stream(
        self, text: str, session_id: str | None = None, *, tenant: str = ...,
        locale: str | None = None,
    ) -> AsyncIterator[StreamEvent]: ...

    def respond_sync(self, text: str, session_id: str | None = None, **kw: Any) -> TurnResult: ...

    def stream_sync(
        self, text: str, session_id: str | None = None, **kw: Any
    ) -> Iterator[StreamEvent]: ...


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return str(value.content)
    if isinstance(value, dict) and "input" in value:
        return _text(value["input"])
    raise InputError('input must be a string, a message, or {"input": "..."}')


def _turn_args(config: RunnableConfig | None) -> tuple[str | None, dict[str, Any]]:
    conf = (config or {}).get("configurable") or {}
    kw = {"tenant": conf.get("tenant", "default")}
    if conf.get("locale"):
        kw["locale"] = conf["locale"]
    return conf.get("session_id"), kw


def metadata(r: TurnResult) -> dict[str, Any]:
    """What an AIMessage from the agent carries in ``response_metadata``."""
    return {
        "session_id": r.session_id,
        "turn": r.turn,
        "state": r.state,
        "strategy": r.strategy,
        "user_estimate": r.user_estimate,
        "safety": r.safety,
        "feeling": r.feeling,
        "stimulus": r.stimulus,
    }


class AgentRunnable(Runnable[Any, AIMessage]):
    """One agent turn per call, behind langchain-core's callbacks and tracing.

    Input: ``"text"``, a message, or ``{"input": "text"}``. Output: an ``AIMessage`` whose
    ``response_metadata`` holds ``session_id``, ``turn``, ``state``, ``strategy``,
    ``user_estimate``, ``safety`` (``"pass"``, ``"crisis"``, ``"boundary"``; ``None`` when the
    agent runs with ``safety=False``), ``feeling`` and ``stimulus``. The crisis check runs on
    every call, as on every other path: a crisis message gets the safe-messaging reply.

    ``config["configurable"]``: ``session_id`` (a new session when absent; read its id from
    the metadata), ``tenant``, ``locale`` (crisis lines, e.g. ``"en-GB"``).

    >>> chain = agent.as_runnable() | StrOutputParser()               # doctest: +SKIP
    >>> chain.invoke("hello", {"configurable": {"session_id": sid}})  # doctest: +SKIP
    >>> msg = agent.as_runnable().invoke("I want to end it all tonight")   # doctest: +SKIP
    >>> msg.response_metadata["safety"]                                     # doctest: +SKIP
    'crisis'

    ``stream``/``astream`` yield ``AIMessageChunk``s; the last chunk carries the metadata.
    ``batch``/``abatch`` run one turn per input. Sessions persist in the agent's store, so no
    chat-history wrapper is needed.
    """

    def __init__(self, agent: TurnAgent) -> None:
        self.agent = agent

    @property
    def InputType(self) -> Any:
        return str | dict

    @property
    def OutputType(self) -> Any:
        return AIMessage

    # ------------------------------------------------------------------ invoke
    def _invoke(
        self, input: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> AIMessage:
        sid, kw = _turn_args(config)
        r = self.agent.respond_sync(_text(input), sid, **kw)
        return AIMessage(content=r.reply, response_metadata=metadata(r))

    async def _ainvoke(
        self, input: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> AIMessage:
        sid, kw = _turn_args(config)
        r = await self.agent.respond(_text(input), sid, **kw)
        return AIMessage(content=r.reply, response_metadata=metadata(r))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AIMessage:
        return self._call_with_config(self._invoke, input, config, run_type="chain", **kwargs)

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        return await self._acall_with_config(
            self._ainvoke, input, config, run_type="chain", **kwargs
        )

    # ------------------------------------------------------------------ streaming
    @staticmethod
    def _chunk(ev: StreamEvent) -> AIMessageChunk | None:
        if ev.kind == "token":
            return AIMessageChunk(content=ev.text)
        if ev.result is not None:
            return AIMessageChunk(content="", response_metadata=metadata(ev.result))
        return None

    def _transform(
        self, inputs: Iterator[Any], run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Iterator[AIMessage]:
        sid, kw = _turn_args(config)
        for item in inputs:
            for ev in self.agent.stream_sync(_text(item), sid, **kw):
                chunk = self._chunk(ev)
                if chunk is not None:
                    yield chunk

    async def _atransform(
        self, inputs: AsyncIterator[Any], run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[AIMessage]:
        sid, kw = _turn_args(config)
        async for item in inputs:
            async for ev in self.agent.stream(_text(item), sid, **kw):
                chunk = self._chunk(ev)
                if chunk is not None:
                    yield chunk

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessage]:
        yield from self._transform_stream_with_config(
            iter([input]), self._transform, config, run_type="chain", **kwargs
        )

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessage]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            one(), self._atransform, config, run_type="chain", **kwargs
        ):
            yield chunk

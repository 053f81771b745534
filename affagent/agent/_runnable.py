"""The agent as a langchain-core ``Runnable``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from affagent.errors import InputError

if TYPE_CHECKING:
    from affagent.agent._agent import Agent
    from affagent.agent._config import TurnResult


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return str(value.content)
    if isinstance(value, dict) and "input" in value:
        return _text(value["input"])
    raise InputError('input must be a string, a message, or {"input": "..."}')


def _ids(config: RunnableConfig | None) -> tuple[str | None, str]:
    conf = (config or {}).get("configurable") or {}
    return conf.get("session_id"), conf.get("tenant", "default")


def _metadata(r: TurnResult) -> dict[str, Any]:
    return {
        "session_id": r.session_id,
        "turn": r.turn,
        "state": r.state,
        "strategy": r.strategy,
        "user_estimate": r.user_estimate,
    }


class AgentRunnable(Runnable[Any, AIMessage]):
    """One agent turn per call: input ``"text"``, a message, or ``{"input": "text"}``; output
    an ``AIMessage`` whose ``response_metadata`` holds ``session_id``, ``turn``, ``state``,
    ``strategy`` and ``user_estimate``. The session is
    ``config["configurable"]["session_id"]`` (a new one when absent; read its id from the
    metadata), the tenant ``config["configurable"]["tenant"]``.

    >>> chain = agent.as_runnable() | StrOutputParser()               # doctest: +SKIP
    >>> chain.invoke("hello", {"configurable": {"session_id": sid}})  # doctest: +SKIP

    Streaming (``stream``/``astream``) yields ``AIMessageChunk``s; the last chunk carries the
    metadata. Sessions persist in the agent's store, so no chat-history wrapper is needed.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    @property
    def InputType(self) -> Any:
        return str | dict

    @property
    def OutputType(self) -> Any:
        return AIMessage

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AIMessage:
        sid, tenant = _ids(config)
        r = self.agent.respond_sync(_text(input), sid, tenant=tenant)
        return AIMessage(content=r.reply, response_metadata=_metadata(r))

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        sid, tenant = _ids(config)
        r = await self.agent.respond(_text(input), sid, tenant=tenant)
        return AIMessage(content=r.reply, response_metadata=_metadata(r))

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        sid, tenant = _ids(config)
        async for ev in self.agent.stream(_text(input), sid, tenant=tenant):
            if ev.kind == "token":
                yield AIMessageChunk(content=ev.text)
            elif ev.result is not None:
                yield AIMessageChunk(content="", response_metadata=_metadata(ev.result))

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        sid, tenant = _ids(config)
        for ev in self.agent.stream_sync(_text(input), sid, tenant=tenant):
            if ev.kind == "token":
                yield AIMessageChunk(content=ev.text)
            elif ev.result is not None:
                yield AIMessageChunk(content="", response_metadata=_metadata(ev.result))

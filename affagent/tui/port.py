"""What the chat app needs from an agent: the slice of :class:`affagent.agent.Agent` it calls.

The app is written against this protocol rather than the concrete class so that it can be
driven by a fake in unit tests and by the real agent everywhere else; the real ``Agent``
satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol


class SessionStoreLike(Protocol):
    """The read side of the session store the app uses (sessions picker, resume, export)."""

    def list_sessions(self, tenant: str = "default") -> Sequence[Any]: ...

    def get_session(self, session_id: str, tenant: str = "default") -> Any: ...

    def turns(self, session_id: str, tenant: str = "default") -> Sequence[Any]: ...

    def export(self, session_id: str, tenant: str = "default", fmt: str = "json") -> str: ...


class ChatAgent(Protocol):
    """The agent as the chat app sees it (the slice of :class:`affagent.agent.Agent` it uses)."""

    store: SessionStoreLike

    def new_session(
        self,
        *,
        persona: str | None = None,
        dynamics: str | None = None,
        tenant: str = "default",
        session_id: str | None = None,
    ) -> str: ...

    def stream(
        self, text: str, session_id: str | None = None, *, tenant: str = "default", **kw: Any
    ) -> AsyncIterator[Any]: ...

    async def aclose(self) -> None: ...

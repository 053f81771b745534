"""The conversation: one bubble per message, the agent's reply filling in as tokens arrive."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

Role = Literal["user", "agent", "note"]
ReplyState = Literal["streaming", "done", "cancelled", "failed"]

_SUFFIX: dict[str, str] = {
    "streaming": " ▍",
    "done": "",
    "cancelled": "  [cancelled — not stored]",
    "failed": "  [failed — not stored]",
}


class Message(Static):
    """One message. An agent message streams: :meth:`append` adds tokens as they come."""

    DEFAULT_CSS = """
    Message { width: 1fr; height: auto; margin: 0 0 1 0; padding: 0 1; }
    Message.-user { background: $primary 15%; border-left: outer $primary; }
    Message.-agent { background: $success 10%; border-left: outer $success; }
    Message.-note { color: $text-muted; text-style: italic; padding: 0 1; }
    Message.-safety { border-left: outer $warning; background: $warning 10%; }
    Message.-cancelled, Message.-failed { color: $text-muted; border-left: outer $warning; }
    """

    text: reactive[str] = reactive("", layout=True)
    state: reactive[ReplyState] = reactive("done")

    def __init__(self, role: Role, text: str = "", *, state: ReplyState = "done") -> None:
        super().__init__(classes=f"-{role}")
        self.role = role
        self.set_reactive(Message.text, text)
        self.set_reactive(Message.state, state)
        self.add_class(f"-{state}")
        self._refresh_text()

    def append(self, delta: str) -> None:
        self.text += delta

    def finish(self, text: str | None = None) -> None:
        if text is not None:
            self.text = text
        self.state = "done"

    def watch_text(self) -> None:
        self._refresh_text()

    def watch_state(self, old: ReplyState, new: ReplyState) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self._refresh_text()

    def _refresh_text(self) -> None:
        who = {"user": "You", "agent": "Agent", "note": ""}[self.role]
        body = Text()
        if who:
            body.append(f"{who}: ", style="bold")
        body.append(self.text)
        suffix = _SUFFIX[self.state]
        if suffix:
            body.append(suffix, style="dim")
        self.update(body)


class Conversation(VerticalScroll):
    """The message list, kept scrolled to the newest message."""

    DEFAULT_CSS = """
    Conversation { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    """

    def add(self, role: Role, text: str = "", *, state: ReplyState = "done") -> Message:
        msg = Message(role, text, state=state)
        self.mount(msg)
        self.call_after_refresh(self.scroll_end, animate=False)
        return msg

    def clear(self) -> None:
        self.remove_children()

    def messages(self, role: Role | None = None) -> list[Message]:
        return [m for m in self.query(Message) if role is None or m.role == role]

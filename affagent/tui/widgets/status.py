"""The one-line status under the conversation: what the app is doing, or what went wrong."""

from __future__ import annotations

from typing import Literal

from textual.reactive import reactive
from textual.widgets import Static

Level = Literal["info", "busy", "error"]


class StatusLine(Static):
    """Busy/idle and error messages. Errors stay until the next action replaces them, so a
    failed turn is never a transient toast the user might miss."""

    DEFAULT_CSS = """
    StatusLine { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    StatusLine.-busy { color: $accent; }
    StatusLine.-error { color: $text-error; background: $error 15%; }
    """

    message: reactive[str] = reactive("")
    level: reactive[Level] = reactive("info")

    def set(self, message: str, level: Level = "info") -> None:
        self.message = message
        self.level = level

    def watch_message(self, message: str) -> None:
        self.update(message)

    def watch_level(self, old: Level, new: Level) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")

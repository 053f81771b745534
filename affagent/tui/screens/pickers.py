"""Pickers: resume an earlier session, or start a new one with another persona."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from affagent.tui.screens._base import Dialog


def _when(ts: Any) -> str:
    """A store timestamp (datetime or Unix seconds) as ``YYYY-MM-DD HH:MM`` local time."""
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is not None:
            ts = ts.astimezone()
        return ts.strftime("%Y-%m-%d %H:%M")
    if isinstance(ts, int | float):
        return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    return str(ts or "")


def session_label(record: Any) -> Text:
    """Two lines per session: short id, when, persona, dynamics, turns; then its title."""
    sid = str(getattr(record, "id", ""))
    parts = [
        sid[:12].ljust(12),
        _when(getattr(record, "updated_at", None)).ljust(16),
        str(getattr(record, "persona", "") or "").ljust(15),
        str(getattr(record, "dynamics", "") or "").ljust(10),
        f"{int(getattr(record, 'turns', 0) or 0):>3} turns",
    ]
    text = Text("  ".join(parts))
    title = str(getattr(record, "title", "") or "")
    if title:
        text.append("\n" + title[:76], style="italic dim")
    return text


class SessionPicker(Dialog[str]):
    """Earlier sessions in the store's order; Enter resumes the highlighted one."""

    def __init__(self, sessions: Sequence[Any], current: str | None = None) -> None:
        super().__init__()
        self._sessions = list(sessions)  # the store's order: most recently updated first
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Resume a session"
            if not self._sessions:
                yield Static("No sessions yet: say something first.")
            else:
                options = [
                    Option(session_label(r), id=str(getattr(r, "id", ""))) for r in self._sessions
                ]
                yield OptionList(*options, id="sessions")
            yield Static("Enter resumes · Esc closes", classes="dialog--hint")

    def on_mount(self) -> None:
        if self._sessions:
            self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class PersonaPicker(Dialog[str]):
    """The personas on disk with their descriptions; invalid files are listed, disabled, with
    the reason, so a broken YAML file is visible instead of silently missing."""

    def __init__(self, personas: Sequence[tuple[str, str, bool]], current: str = "") -> None:
        """``personas``: ``(id, description or error, valid)`` triples."""
        super().__init__()
        self._personas = list(personas)
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Talk to another persona (starts a new session)"
            options = []
            for pid, text, ok in self._personas:
                mark = "•" if pid == self._current else " "
                label = f"{mark} {pid:<16} {text}" if ok else f"  {pid:<16} invalid: {text}"
                options.append(Option(label, id=pid, disabled=not ok))
            yield OptionList(*options, id="personas")
            yield Static("Enter picks · Esc closes", classes="dialog--hint")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        for i, (pid, _, ok) in enumerate(self._personas):
            if pid == self._current and ok:
                ol.highlighted = i

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

"""The help screen: every key binding of the app, generated from the bindings themselves."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from affagent.tui.screens._base import Dialog

_INTRO = (
    "The right panel shows the agent's state (V valence, A arousal, D dominance, each −1..+1) "
    "and the estimate of yours, with sparklines of both over the session."
)


def key_label(key: str) -> str:
    """``ctrl+n`` → ``Ctrl+N``, ``f1`` → ``F1``."""
    names = {"escape": "Esc", "enter": "Enter"}
    parts = [
        names.get(p, p.upper() if len(p) <= 3 and p[0] == "f" else p.capitalize())
        for p in key.split("+")
    ]
    return "+".join(parts)


class HelpScreen(Dialog[None]):
    """Lists the app's bindings (key and description), plus Enter to send."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("f1", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self._key_bindings = bindings

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Help — key bindings"
            table: DataTable[str] = DataTable(show_cursor=False, zebra_stripes=True)
            table.add_columns("Key", "Action")
            table.add_row("Enter", "Send the message")
            for b in self._key_bindings:
                keys = " / ".join(key_label(k.strip()) for k in b.key.split(","))
                table.add_row(keys, b.tooltip or b.description)
            yield table
            yield Static(_INTRO, classes="dialog--hint")
            yield Static("Esc, F1 or q closes this screen.", classes="dialog--hint")

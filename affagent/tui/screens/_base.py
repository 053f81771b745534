"""The look and the Esc-to-close behaviour every dialog of the app shares."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A centred, bordered dialog that closes with Esc (returning ``None``)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > .dialog {
        width: 84; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    Dialog .dialog--hint { color: $text-muted; margin-top: 1; }
    Dialog .dialog--error { color: $text-error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def action_close(self) -> None:
        self.dismiss(None)

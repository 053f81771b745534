"""The dynamics switch: stateless, first-order (α) or second-order (μ), for a new session."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from affagent.affect.dynamics import ACCEPTED_FORMS, parse_dynamics
from affagent.errors import ConfigError
from affagent.tui.screens._base import Dialog

PRESETS: list[tuple[str, str]] = [
    ("stateless", "no memory: the state is each turn's target (control condition)"),
    ("first:0.3", "exponential smoothing, slow (α = 0.3)"),
    ("first:0.6", "exponential smoothing, quick (α = 0.6)"),
    ("second:0.5", "momentum, light inertia (μ = 0.5)"),
    ("second:0.8", "momentum, strong inertia and hysteresis (μ = 0.8)"),
    ("second:0.9", "momentum, very heavy (μ = 0.9)"),
]


class DynamicsScreen(Dialog[str]):
    """Pick a preset or type any ``stateless`` / ``first:α`` / ``second:μ[:κ]``; invalid text is
    explained in place and never leaves the dialog."""

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Dynamics (starts a new session)"
            yield OptionList(
                *(Option(f"{name:<11} {text}", id=name) for name, text in PRESETS),
                id="presets",
            )
            yield Input(value=self._current, placeholder="e.g. first:0.4", id="spec")
            yield Static("", classes="dialog--error", id="dyn-error")
            yield Static(
                f"Pick a preset, or type {ACCEPTED_FORMS}; Enter applies · Esc closes",
                classes="dialog--hint",
            )

    def on_mount(self) -> None:
        self.query_one("#spec", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._submit(event.option.id or "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit(event.value)

    def _submit(self, text: str) -> None:
        try:
            spec = parse_dynamics(text)
        except ConfigError as exc:
            self.query_one("#dyn-error", Static).update(str(exc))
            return
        self.dismiss(str(spec))

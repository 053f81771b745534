"""The live affect panel: the agent's and the user's V/A/D, and what the last turn read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Label, Static

from affagent.affect.vad import VAD
from affagent.tui.model import SessionView, axis
from affagent.tui.widgets.gauge import Gauge, Trajectory

AXIS_NAMES = {"V": "valence", "A": "arousal", "D": "dominance"}


class AxisRow(Horizontal):
    """``V ━━━│──── +0.42 ▃▄▅▆`` — one axis: its gauge, its value and its track."""

    DEFAULT_CSS = """
    AxisRow { height: 1; }
    AxisRow > .axis--name { width: 2; color: $text-muted; }
    AxisRow > Gauge { width: 13; }
    AxisRow > .axis--value { width: 7; text-align: right; padding-right: 1; }
    AxisRow > Trajectory { width: 1fr; }
    """

    value: reactive[float | None] = reactive(None)
    track: reactive[tuple[float, ...]] = reactive(())

    def __init__(self, name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.axis = name
        self.tooltip = AXIS_NAMES.get(name, name)

    def compose(self) -> ComposeResult:
        yield Label(self.axis, classes="axis--name")
        yield Gauge().data_bind(value=AxisRow.value)
        yield Label("  –  ", classes="axis--value")
        yield Trajectory().data_bind(values=AxisRow.track)

    def watch_value(self, value: float | None) -> None:
        if self.is_mounted:
            label = self.query_one(".axis--value", Label)
            label.update("–" if value is None else f"{value:+.2f}")


class AffectBlock(Vertical):
    """Three axis rows under a border title: one affect track (the agent's, or the user's)."""

    DEFAULT_CSS = """
    AffectBlock { height: auto; border: round $primary 60%; padding: 0 1; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title

    def compose(self) -> ComposeResult:
        for name in "VAD":
            yield AxisRow(name, id=f"axis-{name}")

    def show(self, now: VAD | None, track: Sequence[VAD]) -> None:
        for name in "VAD":
            row = self.query_one(f"#axis-{name}", AxisRow)
            row.value = None if now is None else now.as_tuple()["VAD".index(name)]
            row.track = tuple(axis(track, name))


def _pct_list(items: Sequence[tuple[str, float]], empty: str = "–") -> str:
    if not items:
        return empty
    return " · ".join(f"{name} {p:.0%}" for name, p in items)


class InfoBox(Static):
    """A titled box of one or two lines of text (feelings, strategy, classifier)."""

    DEFAULT_CSS = """
    InfoBox { height: auto; border: round $primary 40%; padding: 0 1; }
    """

    def __init__(self, title: str, text: str = "–", *, id: str | None = None) -> None:
        super().__init__(text, id=id, markup=False)
        self.border_title = title


class AffectPanel(VerticalScroll):
    """Everything the agent feels and read, refreshed after every turn from a SessionView.
    Scrolls rather than clips when the terminal is shorter than the panel."""

    DEFAULT_CSS = """
    AffectPanel { width: 42; height: 1fr; padding: 0; scrollbar-size-vertical: 1; }
    """

    def compose(self) -> ComposeResult:
        yield AffectBlock("Agent state", id="agent-affect")
        yield AffectBlock("User (estimate)", id="user-affect")
        yield InfoBox("Feels", id="feels")
        yield InfoBox("Strategy", id="strategy")
        yield InfoBox("Read in the user's words", id="perceived")

    def show(self, session: SessionView, components: Mapping[str, str] | None = None) -> None:
        """Refresh from ``session``; ``components`` (the agent's ``components`` notes) tells
        a stage that is switched off ("selector off") from one with nothing to show yet."""
        notes = components or {}

        def off(stage: str) -> bool:
            return notes.get(stage, "").startswith("none")

        self.query_one("#agent-affect", AffectBlock).show(session.agent_now, session.agent_track())
        self.query_one("#user-affect", AffectBlock).show(session.user_now, session.user_track())
        feels = f"{session.in_words()}\n{_pct_list(session.feelings(3))}"
        self.query_one("#feels", InfoBox).update(feels)
        last = session.last
        if last is not None and last.safety:
            strategy = f"safety reply · {last.safety}"
        elif off("selector") and (last is None or last.strategy is None):
            strategy = "selector off"
        elif last is None or last.strategy is None:
            strategy = "–"
        elif last.strategy_p is None:
            strategy = last.strategy
        else:
            strategy = f"{last.strategy}  p={last.strategy_p:.2f}"
        self.query_one("#strategy", InfoBox).update(strategy)
        if off("classifier") and (last is None or not last.emotions):
            perceived = "classifier off"
        elif last is None:
            perceived = "–"
        else:
            causes = ", ".join(w for w, _ in last.causes) or "–"
            perceived = f"{_pct_list(last.emotions)}\ncauses: {causes}"
        self.query_one("#perceived", InfoBox).update(perceived)

"""A bipolar gauge and a fixed-scale trajectory sparkline for one VAD axis (−1..+1).

Both scale to −1..+1 rather than to the data, so a bar or a sparkline means the same thing in
every session and for both the agent and the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_BLOCKS = "▁▂▃▄▅▆▇█"


def gauge_text(value: float | None, width: int) -> tuple[str, int, int]:
    """The bar's cells as a string plus the filled span ``[lo, hi)``.

    Zero sits at the centre mark ``│``; the bar grows right for positive values and left for
    negative ones, one cell per ``1 / half`` of the range.
    """
    width = max(3, width)
    half = (width - 1) // 2
    centre = half
    cells = ["─"] * width
    cells[centre] = "│"
    if value is None:
        return "".join(cells), centre, centre
    v = max(-1.0, min(1.0, value))
    n = round(abs(v) * half)
    if v >= 0:
        lo, hi = centre + 1, centre + 1 + n
    else:
        lo, hi = centre - n, centre
    for i in range(lo, hi):
        cells[i] = "━"
    return "".join(cells), lo, hi


def spark_text(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as block characters on a fixed −1..+1 scale."""
    tail = list(values)[-max(1, width) :]
    out = []
    for v in tail:
        v = max(-1.0, min(1.0, v))
        out.append(_BLOCKS[round((v + 1.0) / 2.0 * (len(_BLOCKS) - 1))])
    return "".join(out)


class Gauge(Widget):
    """A one-line bar for a value on −1..+1 (``None`` shows an empty scale)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"gauge--positive", "gauge--negative", "gauge--scale"}
    DEFAULT_CSS = """
    Gauge { height: 1; width: 1fr; min-width: 5; }
    Gauge > .gauge--positive { color: $success; }
    Gauge > .gauge--negative { color: $error; }
    Gauge > .gauge--scale { color: $foreground 30%; }
    """

    value: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        cells, lo, hi = gauge_text(self.value, self.size.width)
        scale = self.get_component_rich_style("gauge--scale")
        fill_class = "gauge--negative" if (self.value or 0.0) < 0 else "gauge--positive"
        fill = self.get_component_rich_style(fill_class)
        text = Text(cells, style=scale, no_wrap=True, overflow="crop")
        if hi > lo:
            text.stylize(fill, lo, hi)
        return text


class Trajectory(Widget):
    """A sparkline of a session's values on a fixed −1..+1 scale, newest on the right."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"trajectory--positive", "trajectory--negative"}
    DEFAULT_CSS = """
    Trajectory { height: 1; width: 1fr; min-width: 4; }
    Trajectory > .trajectory--positive { color: $success 80%; }
    Trajectory > .trajectory--negative { color: $error 80%; }
    """

    values: reactive[tuple[float, ...]] = reactive(())

    def render(self) -> Text:
        width = self.size.width
        tail = self.values[-max(1, width) :]
        text = Text(spark_text(tail, width), no_wrap=True, overflow="crop")
        pos = self.get_component_rich_style("trajectory--positive")
        neg = self.get_component_rich_style("trajectory--negative")
        for i, v in enumerate(tail):
            text.stylize(neg if v < 0 else pos, i, i + 1)
        return text

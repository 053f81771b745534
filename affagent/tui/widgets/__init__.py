"""Small widgets of the chat app, each with typed reactives and its own DEFAULT_CSS."""

from __future__ import annotations

from affagent.tui.widgets.affect import AffectBlock, AffectPanel, AxisRow, InfoBox
from affagent.tui.widgets.conversation import Conversation, Message
from affagent.tui.widgets.gauge import Gauge, Trajectory, gauge_text, spark_text
from affagent.tui.widgets.status import StatusLine

__all__ = [
    "AffectBlock",
    "AffectPanel",
    "AxisRow",
    "Conversation",
    "Gauge",
    "InfoBox",
    "Message",
    "StatusLine",
    "Trajectory",
    "gauge_text",
    "spark_text",
]

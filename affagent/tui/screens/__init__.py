"""Modal screens of the chat app: help, session picker, persona picker, dynamics switch."""

from __future__ import annotations

from affagent.tui.screens.dynamics import DynamicsScreen
from affagent.tui.screens.help import HelpScreen
from affagent.tui.screens.pickers import PersonaPicker, SessionPicker

__all__ = ["DynamicsScreen", "HelpScreen", "PersonaPicker", "SessionPicker"]

"""The terminal chat app (Textual): the conversation and the agent's feelings as they move.

Imported only by ``affagent chat`` and by code that embeds the app; importing it pulls in
Textual, which ``import affagent`` never does.
"""

from __future__ import annotations

from affagent.tui.app import ChatApp
from affagent.tui.export import export_session
from affagent.tui.model import SessionView, TurnView
from affagent.tui.port import ChatAgent

__all__ = [
    "ChatAgent",
    "ChatApp",
    "SessionView",
    "TurnView",
    "export_session",
]

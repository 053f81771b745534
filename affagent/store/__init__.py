"""Persistent sessions: SQLAlchemy 2 over SQLite (default) or PostgreSQL.

>>> from affagent.store import SessionStore
>>> store = SessionStore()                        # $AFFAGENT_HOME/affagent.db
>>> store = SessionStore("postgresql+psycopg://user@host/db")

The default URL is ``$AFFAGENT_DATABASE_URL`` when set, else a SQLite file in
:func:`affagent.resources.state_dir`. See :class:`SessionStore` for the transaction and
concurrency guarantees.
"""

from __future__ import annotations

from affagent.store._records import HistoryItem, SessionRecord, Snapshot, TurnRecord
from affagent.store._store import DEFAULT_TENANT, SessionStore, default_url, new_session_id

__all__ = [
    "DEFAULT_TENANT",
    "HistoryItem",
    "SessionRecord",
    "SessionStore",
    "Snapshot",
    "TurnRecord",
    "default_url",
    "new_session_id",
]

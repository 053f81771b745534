"""SQLAlchemy 2 tables: sessions, turns (with the JSON trace) and state snapshots.

Every per-turn query hits an index: sessions by primary key (``id``) with the tenant checked in
the same row, turns and snapshots by ``(session_id, turn)``. Loading and saving a turn therefore
costs the same with ten or ten thousand stored sessions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")

SCHEMA_VERSION = 1


class Base(DeclarativeBase):
    pass


class SessionRow(Base):
    """One conversation. ``version`` is bumped by every committed turn (optimistic locking)."""

    __tablename__ = "affagent_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), nullable=False, default="default")
    persona: Mapped[str] = mapped_column(String(512), nullable=False)
    dynamics: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    turn_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_affagent_sessions_tenant_updated", "tenant", "updated_at"),)


class TurnRow(Base):
    """One committed turn. The user text and reply are columns (the history window reads only
    them); the full :class:`affagent.types.TurnTrace` is the JSON ``trace``."""

    __tablename__ = "affagent_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("affagent_sessions.id", ondelete="CASCADE"), nullable=False
    )
    turn: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    user_text: Mapped[str] = mapped_column(Text, nullable=False)
    reply: Mapped[str] = mapped_column(Text, nullable=False)
    strategy: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_estimate: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    trace: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)

    __table_args__ = (
        UniqueConstraint("session_id", "turn", name="uq_affagent_turns_session_turn"),
    )


class SnapshotRow(Base):
    """The agent's state after each turn (turn 0 = the state the session started in)."""

    __tablename__ = "affagent_state_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("affagent_sessions.id", ondelete="CASCADE"), nullable=False
    )
    turn: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        UniqueConstraint("session_id", "turn", name="uq_affagent_snapshots_session_turn"),
    )


class MetaRow(Base):
    """Key/value facts about the database itself (the schema version)."""

    __tablename__ = "affagent_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), nullable=False)

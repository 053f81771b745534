"""The session repository over a SQLAlchemy URL (SQLite by default, PostgreSQL supported)."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, case, create_engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from affagent.affect.state import AffectState
from affagent.errors import ConcurrentTurnError, ConfigError, SessionNotFound
from affagent.store._models import (
    SCHEMA_VERSION,
    Base,
    MetaRow,
    SessionRow,
    SnapshotRow,
    TurnRow,
)
from affagent.store._records import HistoryItem, SessionRecord, Snapshot, TurnRecord
from affagent.types import TurnTrace, VADEstimate

DEFAULT_TENANT = "default"
_TITLE_CHARS = 60


def new_session_id() -> str:
    """A fresh session id (12 hex digits), for a caller that must know the id before the
    session exists (the HTTP service sends it in a header before the first token)."""
    return uuid.uuid4().hex[:12]


def default_url() -> str:
    """``$AFFAGENT_DATABASE_URL``, else a SQLite file at ``$AFFAGENT_HOME/affagent.db``."""
    from affagent.settings import settings

    env = settings().database_url
    if env:
        return env
    from affagent.resources import state_dir

    return f"sqlite:///{state_dir() / 'affagent.db'}"


def _utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _make_engine(url: str, echo: bool) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url
        kw: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kw["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    try:
        return create_engine(url, echo=echo, pool_pre_ping=True)
    except Exception as exc:
        raise ConfigError(f"cannot open database {url!r}: {exc}") from None


class SessionStore:
    """Sessions, turns and state snapshots in one database.

    A turn is written by :meth:`commit_turn` in one transaction (turn row, trace, state
    snapshot, session state and version bump) or not at all. Concurrent writers are detected
    by an optimistic version check: the losing writer gets :class:`ConcurrentTurnError` and
    nothing of its turn is stored.

    >>> store = SessionStore("sqlite://")          # in memory
    >>> rec = store.create_session(persona="calm-counsellor", dynamics="second:0.8",
    ...                            state=AffectState())
    >>> store.get_session(rec.id).version
    0

    Every method takes ``tenant`` (default ``"default"``); a session is invisible from any
    other tenant (:class:`SessionNotFound`), which is how the HTTP service isolates its users.
    """

    def __init__(self, url: str | None = None, *, echo: bool = False, create: bool = True) -> None:
        self.url = url or default_url()
        self.engine = _make_engine(self.url, echo)
        self._maker = sessionmaker(self.engine, expire_on_commit=False)
        # an in-memory database is one connection (StaticPool): threads must take turns on it,
        # as concurrent turns do (a Runnable's batch, the agent's worker threads)
        self._one_at_a_time: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.engine.pool.__class__ is StaticPool
            else contextlib.nullcontext()
        )
        if create:
            self.create_schema()

    # ------------------------------------------------------------------ lifecycle
    def create_schema(self) -> None:
        """Create the tables if missing (idempotent) and record the schema version."""
        try:
            Base.metadata.create_all(self.engine, checkfirst=True)
        except OperationalError as exc:
            raise ConfigError(f"cannot open database {self.safe_url}: {exc.orig}") from None
        except IntegrityError:  # another process created them at the same moment
            pass
        with self._tx() as db:
            if db.get(MetaRow, "schema_version") is None:
                db.add(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))
                try:
                    db.flush()
                except IntegrityError:
                    db.rollback()

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _sessions(self) -> Iterator[Session]:
        with self._one_at_a_time, self._maker() as db:
            yield db

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions() as db, db.begin():
            yield db

    # ------------------------------------------------------------------ sessions
    def create_session(
        self,
        *,
        persona: str,
        dynamics: str,
        state: AffectState,
        tenant: str = DEFAULT_TENANT,
        session_id: str | None = None,
        title: str = "",
        meta: dict[str, Any] | None = None,
    ) -> SessionRecord:
        """Create a session starting in ``state`` (snapshot 0). A duplicate id is a
        :class:`ConfigError`."""
        sid = session_id or new_session_id()
        if not sid or len(sid) > 64 or not all(c.isalnum() or c in "-_." for c in sid):
            raise ConfigError(f"invalid session id {sid!r}: use 1-64 letters, digits, - _ .")
        now = _now()
        row = SessionRow(
            id=sid,
            tenant=tenant,
            persona=persona,
            dynamics=dynamics,
            title=title[:200],
            state=state.to_dict(),
            version=0,
            turn_count=0,
            meta=meta or {},
            created_at=now,
            updated_at=now,
        )
        try:
            with self._tx() as db:
                db.add(row)
                db.flush()
                db.add(SnapshotRow(session_id=sid, turn=0, state=state.to_dict(), created_at=now))
        except IntegrityError:
            raise ConfigError(f"a session with id {sid!r} already exists") from None
        return self._record(row)

    def get_session(self, session_id: str, tenant: str = DEFAULT_TENANT) -> SessionRecord:
        with self._sessions() as db:
            return self._record(self._row(db, session_id, tenant))

    def list_sessions(
        self, tenant: str | None = DEFAULT_TENANT, *, limit: int = 100, offset: int = 0
    ) -> list[SessionRecord]:
        """Most recently updated first. ``tenant=None`` lists every tenant (admin use)."""
        q = select(SessionRow).order_by(SessionRow.updated_at.desc(), SessionRow.id)
        if tenant is not None:
            q = q.where(SessionRow.tenant == tenant)
        with self._sessions() as db:
            rows = db.scalars(q.limit(limit).offset(offset)).all()
            return [self._record(r) for r in rows]

    def count_sessions(self, tenant: str | None = DEFAULT_TENANT) -> int:
        q = select(func.count()).select_from(SessionRow)
        if tenant is not None:
            q = q.where(SessionRow.tenant == tenant)
        with self._sessions() as db:
            return int(db.scalar(q) or 0)

    def delete_session(self, session_id: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a session with its turns and snapshots."""
        with self._tx() as db:
            self._row(db, session_id, tenant)
            db.execute(delete(TurnRow).where(TurnRow.session_id == session_id))
            db.execute(delete(SnapshotRow).where(SnapshotRow.session_id == session_id))
            db.execute(
                delete(SessionRow).where(SessionRow.id == session_id, SessionRow.tenant == tenant)
            )

    # ------------------------------------------------------------------ turns
    def turns(
        self, session_id: str, tenant: str = DEFAULT_TENANT, *, last: int | None = None
    ) -> list[TurnRecord]:
        """The committed turns, oldest first (``last=n``: only the last n)."""
        with self._sessions() as db:
            self._row(db, session_id, tenant)
            q = select(TurnRow).where(TurnRow.session_id == session_id)
            if last is not None:
                q = q.order_by(TurnRow.turn.desc()).limit(last)
                rows = list(reversed(db.scalars(q).all()))
            else:
                rows = list(db.scalars(q.order_by(TurnRow.turn)).all())
            return [
                TurnRecord(
                    session_id=r.session_id,
                    turn=r.turn,
                    created_at=_utc(r.created_at),
                    user_text=r.user_text,
                    reply=r.reply,
                    strategy=r.strategy,
                    trace=TurnTrace.model_validate(r.trace),
                )
                for r in rows
            ]

    def snapshots(self, session_id: str, tenant: str = DEFAULT_TENANT) -> list[Snapshot]:
        """The state after each turn, starting with turn 0."""
        with self._sessions() as db:
            self._row(db, session_id, tenant)
            rows = db.scalars(
                select(SnapshotRow)
                .where(SnapshotRow.session_id == session_id)
                .order_by(SnapshotRow.turn)
            ).all()
            return [
                Snapshot.model_validate(
                    {"turn": r.turn, "state": r.state, "created_at": _utc(r.created_at)}
                )
                for r in rows
            ]

    def load_for_turn(
        self, session_id: str, tenant: str = DEFAULT_TENANT, history: int = 6
    ) -> tuple[SessionRecord, list[HistoryItem]]:
        """What a turn needs, in one read: the session and its last ``history`` turns (text
        and user estimate only, oldest first). Index lookups only."""
        with self._sessions() as db:
            rec = self._record(self._row(db, session_id, tenant))
            items: list[HistoryItem] = []
            if history > 0 and rec.turns:
                rows = db.execute(
                    select(
                        TurnRow.turn,
                        TurnRow.user_text,
                        TurnRow.reply,
                        TurnRow.strategy,
                        TurnRow.user_estimate,
                    )
                    .where(TurnRow.session_id == session_id)
                    .order_by(TurnRow.turn.desc())
                    .limit(history)
                ).all()
                items = [
                    HistoryItem(
                        turn=r.turn,
                        user_text=r.user_text,
                        reply=r.reply,
                        strategy=r.strategy,
                        user_estimate=VADEstimate.model_validate(r.user_estimate),
                    )
                    for r in reversed(rows)
                ]
            return rec, items

    def commit_turn(
        self,
        session_id: str,
        expected_version: int,
        trace: TurnTrace,
        new_state: AffectState,
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> SessionRecord:
        """Store one turn atomically: the turn with its trace, a state snapshot, the new
        session state and a version bump, in one transaction.

        ``UPDATE ... WHERE version = expected_version`` guards the write; if another writer
        committed first, nothing is stored and :class:`ConcurrentTurnError` is raised (reload
        the session and retry the turn). ``trace.turn`` must be the next turn number.
        """
        now = _now()
        state = new_state.to_dict()
        with self._sessions() as db:
            try:
                with db.begin():
                    res = db.execute(
                        update(SessionRow)
                        .where(
                            SessionRow.id == session_id,
                            SessionRow.tenant == tenant,
                            SessionRow.version == expected_version,
                        )
                        .values(
                            version=SessionRow.version + 1,
                            turn_count=SessionRow.turn_count + 1,
                            state=state,
                            updated_at=now,
                            title=case(
                                (SessionRow.title == "", trace.user_text[:_TITLE_CHARS]),
                                else_=SessionRow.title,
                            ),
                        )
                        .returning(SessionRow.turn_count)
                        .execution_options(synchronize_session=False)
                    )
                    got = res.first()
                    if got is None:
                        cur = self._row(db, session_id, tenant)  # raises SessionNotFound
                        raise ConcurrentTurnError(
                            f"session {session_id} changed while this turn was running "
                            f"(version {cur.version}, expected {expected_version}); "
                            "nothing was stored, retry the turn"
                        )
                    if got.turn_count != trace.turn:
                        raise ConcurrentTurnError(
                            f"session {session_id}: trace is for turn {trace.turn} but the "
                            f"next turn is {got.turn_count}; nothing was stored"
                        )
                    db.add(
                        TurnRow(
                            session_id=session_id,
                            turn=trace.turn,
                            created_at=now,
                            user_text=trace.user_text,
                            reply=trace.reply,
                            strategy=trace.strategy.strategy if trace.strategy else None,
                            user_estimate=trace.user_estimate.model_dump(mode="json"),
                            trace=trace.model_dump(mode="json"),
                        )
                    )
                    db.add(
                        SnapshotRow(
                            session_id=session_id, turn=trace.turn, state=state, created_at=now
                        )
                    )
                    db.flush()
            except IntegrityError:
                raise ConcurrentTurnError(
                    f"session {session_id}: turn {trace.turn} was committed by another writer; "
                    "nothing was stored, retry the turn"
                ) from None
            except OperationalError as exc:
                if "locked" in str(exc.orig).lower():
                    raise ConcurrentTurnError(
                        f"session {session_id}: the database is busy (locked by another "
                        "writer); nothing was stored, retry the turn"
                    ) from None
                raise
            return self._record(self._row(db, session_id, tenant))

    # ------------------------------------------------------------------ export
    def export(self, session_id: str, tenant: str = DEFAULT_TENANT, fmt: str = "json") -> str:
        """The whole session with its state trace, as JSON or Markdown (``fmt="md"``)."""
        from affagent.store._export import export_json, export_markdown

        rec = self.get_session(session_id, tenant)
        turns = self.turns(session_id, tenant)
        snaps = self.snapshots(session_id, tenant)
        if fmt == "json":
            return export_json(rec, turns, snaps)
        if fmt in ("md", "markdown"):
            return export_markdown(rec, turns, snaps)
        raise ConfigError(f"unknown export format {fmt!r}; use json or md")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _row(db: Session, session_id: str, tenant: str) -> SessionRow:
        row = db.get(SessionRow, session_id)
        if row is None or row.tenant != tenant:
            raise SessionNotFound(f"no session {session_id!r}")
        return row

    @staticmethod
    def _record(row: SessionRow) -> SessionRecord:
        return SessionRecord.model_validate(
            dict(
                id=row.id,
                tenant=row.tenant,
                persona=row.persona,
                dynamics=row.dynamics,
                state=row.state,
                version=row.version,
                turns=row.turn_count,
                created_at=_utc(row.created_at),
                updated_at=_utc(row.updated_at),
                title=row.title,
                meta=dict(row.meta or {}),
            )
        )

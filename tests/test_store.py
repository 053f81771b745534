"""The session store on SQLite (always) and on a real PostgreSQL (``postgres`` marker)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect

from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import ConcurrentTurnError, ConfigError, SessionNotFound
from affagent.store import SessionStore
from affagent.types import TurnTrace, VADEstimate

PG_URL = os.environ.get("AFFAGENT_TEST_POSTGRES_URL")


def _trace(sid: str, turn: int, text: str = "hello", reply: str = "hi") -> TurnTrace:
    return TurnTrace(
        session_id=sid,
        turn=turn,
        created_at=time.time(),
        persona="calm-counsellor",
        dynamics="second:0.8",
        user_text=text,
        reply=reply,
        user_estimate=VADEstimate(V=-0.5, A=0.2, D=0.0),
        state_before=AffectState().to_dict(),
        state_after=AffectState(vad=VAD(0.1 * turn, 0, 0)).to_dict(),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[SessionStore]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        s = SessionStore(f"sqlite:///{tmp_path / 'a.db'}")
    else:
        if not PG_URL:
            pytest.skip("AFFAGENT_TEST_POSTGRES_URL not set (source scripts/services.sh)")
        s = SessionStore(PG_URL)
    yield s
    s.close()


def _new(store: SessionStore, tenant: str = "default") -> str:
    return store.create_session(
        persona="calm-counsellor",
        dynamics="second:0.8",
        state=AffectState(vad=VAD(0.5, -0.1, 0.0)),
        tenant=tenant,
        session_id=f"t{uuid.uuid4().hex[:10]}",
    ).id


def test_create_get_list_delete(store: SessionStore) -> None:
    tenant = f"ten-{uuid.uuid4().hex[:6]}"
    a, b = _new(store, tenant), _new(store, tenant)
    rec = store.get_session(a, tenant)
    assert (rec.id, rec.tenant, rec.version, rec.turns, rec.persona) == (
        a,
        tenant,
        0,
        0,
        "calm-counsellor",
    )
    assert rec.state.vad == VAD(0.5, -0.1, 0.0)
    assert {r.id for r in store.list_sessions(tenant)} == {a, b}
    assert store.count_sessions(tenant) == 2
    store.delete_session(a, tenant)
    with pytest.raises(SessionNotFound):
        store.get_session(a, tenant)
    assert [r.id for r in store.list_sessions(tenant)] == [b]


def test_duplicate_id_is_config_error(store: SessionStore) -> None:
    sid = _new(store)
    with pytest.raises(ConfigError, match="already exists"):
        store.create_session(persona="p", dynamics="stateless", state=AffectState(), session_id=sid)


def test_tenants_are_isolated(store: SessionStore) -> None:
    sid = _new(store, "alice")
    with pytest.raises(SessionNotFound):
        store.get_session(sid, "bob")
    with pytest.raises(SessionNotFound):
        store.turns(sid, "bob")
    with pytest.raises(SessionNotFound):
        store.delete_session(sid, "bob")
    with pytest.raises(SessionNotFound):
        store.commit_turn(sid, 0, _trace(sid, 1), AffectState(), tenant="bob")
    assert store.get_session(sid, "alice").turns == 0
    assert sid not in {r.id for r in store.list_sessions("bob")}


def test_commit_turn_round_trip_exact(store: SessionStore) -> None:
    sid = _new(store)
    new = AffectState(
        vad=VAD(0.1234567890123, -0.3, 0.7), velocity=VAD(0.01, 0, 0), updated_at=1234.5678, turns=1
    )
    tr = _trace(sid, 1, "I feel low", "I'm sorry")
    rec = store.commit_turn(sid, 0, tr, new)
    assert rec.version == 1 and rec.turns == 1 and rec.title == "I feel low"
    again = store.get_session(sid)
    assert again.state == new  # bit-exact resume
    [t] = store.turns(sid)
    assert t.trace == tr and t.reply == "I'm sorry"
    snaps = store.snapshots(sid)
    assert [s.turn for s in snaps] == [0, 1] and snaps[1].state == new
    rec2, hist = store.load_for_turn(sid, history=6)
    assert rec2.version == 1 and [h.user_text for h in hist] == ["I feel low"]
    assert hist[0].user_estimate.V == -0.5


def test_stale_version_is_rejected_and_stores_nothing(store: SessionStore) -> None:
    sid = _new(store)
    store.commit_turn(sid, 0, _trace(sid, 1), AffectState(turns=1))
    with pytest.raises(ConcurrentTurnError, match="nothing was stored"):
        store.commit_turn(sid, 0, _trace(sid, 2, "lost"), AffectState(turns=9))
    rec = store.get_session(sid)
    assert rec.version == 1 and rec.turns == 1 and rec.state.turns == 1
    assert [t.user_text for t in store.turns(sid)] == ["hello"]
    assert len(store.snapshots(sid)) == 2


def test_wrong_turn_number_rolls_back(store: SessionStore) -> None:
    sid = _new(store)
    with pytest.raises(ConcurrentTurnError):
        store.commit_turn(sid, 0, _trace(sid, 5), AffectState(turns=5))
    rec = store.get_session(sid)
    assert (rec.version, rec.turns, store.turns(sid)) == (0, 0, [])


def test_unknown_session(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        store.commit_turn("nope", 0, _trace("nope", 1), AffectState())
    with pytest.raises(SessionNotFound):
        store.export("nope")


def test_concurrent_writers_one_wins(store: SessionStore) -> None:
    """Eight threads commit turn 1 from version 0 at once: exactly one succeeds."""
    sid = _new(store)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def writer(i: int) -> None:
        barrier.wait()
        try:
            store.commit_turn(sid, 0, _trace(sid, 1, f"writer {i}"), AffectState(turns=i))
            outcomes.append("ok")
        except ConcurrentTurnError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 7
    rec = store.get_session(sid)
    [turn] = store.turns(sid)
    assert rec.version == 1 and rec.state.turns == int(turn.user_text.split()[-1])


def test_export_json_and_markdown(store: SessionStore) -> None:
    sid = _new(store)
    store.commit_turn(sid, 0, _trace(sid, 1, "line one\nline two", "ok"), AffectState(turns=1))
    doc = json.loads(store.export(sid, fmt="json"))
    assert doc["session"]["id"] == sid and doc["turns"][0]["user_text"] == "line one\nline two"
    assert [s["turn"] for s in doc["states"]] == [0, 1]
    md = store.export(sid, fmt="md")
    assert f"# Session {sid}" in md and "> line two" in md and "| 1 |" in md
    with pytest.raises(ConfigError):
        store.export(sid, fmt="xml")


def test_per_turn_queries_use_indexes(store: SessionStore) -> None:
    insp = inspect(store.engine)
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("affagent_turns")}
    assert ("session_id", "turn") in uniques
    snaps = {
        tuple(u["column_names"]) for u in insp.get_unique_constraints("affagent_state_snapshots")
    }
    assert ("session_id", "turn") in snaps
    assert insp.get_pk_constraint("affagent_sessions")["constrained_columns"] == ["id"]


def test_sqlite_query_plan_is_indexed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    s = SessionStore(f"sqlite:///{tmp_path / 'p.db'}")
    with s.engine.connect() as c:
        plan = " ".join(
            str(r[-1])
            for r in c.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT turn, user_text FROM affagent_turns "
                    "WHERE session_id = 'x' ORDER BY turn DESC LIMIT 6"
                )
            )
        )
    assert "USING INDEX" in plan and "SCAN affagent_turns" not in plan.replace("USING INDEX", "")


def test_default_url_uses_affagent_home(affagent_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AFFAGENT_DATABASE_URL", raising=False)
    s = SessionStore()
    assert s.url.endswith("affagent.db") and str(affagent_home) in s.url
    s.close()


def test_bad_url_is_one_line_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        SessionStore(f"sqlite:///{tmp_path}/missing/dir/x.db")

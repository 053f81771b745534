"""Scale-out on PostgreSQL: two service instances (as two workers would be) over one
database. Any instance serves any session; concurrent turns on one session are serialised or
rejected with 409, never interleaved. Skipped unless AFFAGENT_TEST_POSTGRES_URL is set
(`source scripts/services.sh`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from affagent.backends import ScriptedBackend
from tests.server_helpers import client, make_app, user

PG = os.environ.get("AFFAGENT_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG, reason="AFFAGENT_TEST_POSTGRES_URL not set"),
]
ROOT = Path(__file__).resolve().parents[1]


async def test_two_workers_share_sessions_and_never_interleave() -> None:
    assert PG
    tenant = f"pg-{uuid.uuid4().hex[:8]}"
    app1, agent1 = make_app(PG, ScriptedBackend(delay_s=0.01))
    app2, agent2 = make_app(PG, ScriptedBackend(delay_s=0.01))
    _, key = app1.state.service.keys.create(tenant)
    h = {"Authorization": f"Bearer {key}"}
    try:
        async with (
            app1.router.lifespan_context(app1),
            app2.router.lifespan_context(app2),
            client(app1) as c1,
            client(app2) as c2,
        ):
            # the key made through worker 1 works on worker 2; the session too
            sid = (await c1.post("/v1/sessions", json={}, headers=h)).json()["id"]
            r = await c2.post("/v1/chat/completions", json=user("hello", user=sid), headers=h)
            assert r.status_code == 200 and r.json()["affagent"]["turn"] == 1
            assert (await c1.get(f"/v1/sessions/{sid}", headers=h)).json()["turns"] == 1
            # concurrent turns through both workers
            rs = await asyncio.gather(
                *[
                    (c1 if i % 2 else c2).post(
                        "/v1/chat/completions", json=user(f"race {i}", user=sid), headers=h
                    )
                    for i in range(6)
                ]
            )
            codes = [r.status_code for r in rs]
            assert set(codes) <= {200, 409}, codes
            assert 409 in codes  # the other worker's writer lost the version check
            ok = [r for r in rs if r.status_code == 200]
            turns = agent1.store.turns(sid, tenant)
            assert [t.turn for t in turns] == list(range(1, 2 + len(ok)))
            assert sorted(r.json()["affagent"]["turn"] for r in ok) == list(range(2, 2 + len(ok)))
            answered = {r.json()["choices"][0]["message"]["content"] for r in ok}
            assert {t.reply for t in turns[1:]} == answered
            # a retry after 409 succeeds
            r = await c1.post("/v1/chat/completions", json=user("retry", user=sid), headers=h)
            assert r.status_code == 200
            # isolation holds on PostgreSQL too
            _, other = app2.state.service.keys.create(f"{tenant}-x")
            r = await c2.get(f"/v1/sessions/{sid}", headers={"Authorization": f"Bearer {other}"})
            assert r.status_code == 404
    finally:
        for s in agent1.store.list_sessions(tenant):
            agent1.store.delete_session(s.id, tenant)
        await agent1.aclose()
        await agent2.aclose()


@pytest.mark.slow
def test_real_multiworker_server_on_postgres_loses_no_turn() -> None:
    """`affagent serve --workers 2` over PostgreSQL, driven by the benchmark script."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_server.py"),
            "--workers",
            "2",
            "--database",
            str(PG),
            "--sessions",
            "12",
            "--turns",
            "3",
            "--concurrency",
            "12",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ok"] == res["stored"] == 36 and res["lost_turns"] == 0

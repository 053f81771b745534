"""The HTTP service in process (ASGI transport): protocol, auth and isolation, safety, bad
input, faults and concurrency. The real server over TCP is in test_server_live.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from affagent.backends import ScriptedBackend
from affagent.server.keys import KeyStore
from tests.server_helpers import client, make_app, sqlite_url, user


class Env:
    def __init__(self, app: Any, agent: Any, c: httpx.AsyncClient) -> None:
        self.app, self.agent, self.c = app, agent, c
        keys: KeyStore = app.state.service.keys
        _, self.key_a = keys.create("tenant-a")
        _, self.key_b = keys.create("tenant-b")
        self.a = {"Authorization": f"Bearer {self.key_a}"}
        self.b = {"Authorization": f"Bearer {self.key_b}"}

    def counts(self) -> tuple[int, int]:
        """(sessions, turns) over all tenants: what 'nothing stored' is checked against."""
        store = self.agent.store
        sessions = store.list_sessions(None, limit=10_000)
        return len(sessions), sum(s.turns for s in sessions)


@pytest.fixture()
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    app, agent = make_app(sqlite_url(tmp_path), ScriptedBackend(delay_s=0.0))
    async with app.router.lifespan_context(app), client(app) as c:
        yield Env(app, agent, c)
    await agent.aclose()


async def chat(env: Env, text: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return await env.c.post("/v1/chat/completions", json=user(text, **kw), headers=headers or env.a)


def sse_events(body: str) -> list[Any]:
    out: list[Any] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


# --------------------------------------------------------------------------- protocol


async def test_chat_creates_session_and_continues_it(env: Env) -> None:
    r = await chat(env, "I failed my exam and I feel awful.")
    assert r.status_code == 200, r.text
    body = r.json()
    sid = r.headers["x-session-id"]
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
    info = body["affagent"]
    assert info["session_id"] == sid and info["turn"] == 1
    assert set(info["state"]) == {"V", "A", "D"} and info["mood"]
    assert info["user_estimate"]["V"] < 0
    r2 = await chat(env, "Thanks for listening.", headers={**env.a, "X-Session-Id": sid})
    assert r2.json()["affagent"]["turn"] == 2
    r3 = await chat(env, "One more thing.", user=sid)
    assert r3.json()["affagent"]["turn"] == 3
    # only the last message is the turn: earlier ones are ignored, not stored
    many = {
        "messages": [
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "ignored earlier text"},
            {"role": "assistant", "content": "ignored reply"},
            {"role": "user", "content": [{"type": "text", "text": "the real turn"}]},
        ],
        "user": sid,
    }
    r4 = await env.c.post("/v1/chat/completions", json=many, headers=env.a)
    assert r4.status_code == 200
    turns = env.agent.store.turns(sid, "tenant-a")
    assert [t.user_text for t in turns][-1] == "the real turn" and len(turns) == 4


async def test_streaming_sse(env: Env) -> None:
    r = await chat(
        env, "Tell me something nice.", stream=True, stream_options={"include_usage": True}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["total_tokens"] > 0
    sid = last["affagent"]["session_id"]
    assert r.headers["x-session-id"] == sid
    assert set(last["affagent"]) == {
        "session_id",
        "turn",
        "state",
        "mood",
        "feeling",
        "stimulus",
        "strategy",
        "user_estimate",
        "safety",
    }
    assert last["affagent"]["feeling"] and set(last["affagent"]["stimulus"]) == {"V", "A", "D"}
    stored = env.agent.store.turns(sid, "tenant-a")
    assert len(stored) == 1 and stored[0].reply == text


async def test_sessions_crud_state_and_trajectory(env: Env) -> None:
    r = await env.c.post(
        "/v1/sessions", json={"persona": "stoic-mentor", "dynamics": "first:0.4"}, headers=env.a
    )
    assert r.status_code == 201, r.text
    s = r.json()
    sid = s["id"]
    assert s["persona"] == "stoic-mentor" and s["dynamics"].startswith("first")
    assert s["turns"] == 0
    await chat(env, "I lost my keys and I'm furious.", user=sid)
    got = (await env.c.get(f"/v1/sessions/{sid}", headers=env.a)).json()
    assert got["turns"] == 1 and got["version"] == 1
    state = (await env.c.get(f"/v1/sessions/{sid}/state", headers=env.a)).json()
    assert state["V"] == pytest.approx(got["state"]["V"]) and state["mood"]
    traj = (await env.c.get(f"/v1/sessions/{sid}/trajectory", headers=env.a)).json()
    assert [p["turn"] for p in traj["points"]] == [0, 1]
    assert traj["points"][1]["user_estimate"]["V"] < 0 and traj["points"][1]["user_text"] is None
    traj_t = (
        await env.c.get(f"/v1/sessions/{sid}/trajectory?include_text=true", headers=env.a)
    ).json()
    assert traj_t["points"][1]["user_text"].startswith("I lost my keys")
    listed = (await env.c.get("/v1/sessions?limit=10", headers=env.a)).json()
    assert listed["total"] == 1 and listed["data"][0]["id"] == sid
    assert (await env.c.delete(f"/v1/sessions/{sid}", headers=env.a)).json()["deleted"] is True
    assert (await env.c.get(f"/v1/sessions/{sid}", headers=env.a)).status_code == 404
    assert env.counts() == (0, 0)


async def test_models_personas_health_metrics(env: Env) -> None:
    assert (await env.c.get("/v1/models", headers=env.a)).json()["data"][0]["id"] == "affagent"
    assert "calm-counsellor" in (await env.c.get("/v1/personas", headers=env.a)).json()["data"]
    h = await env.c.get("/healthz")
    assert h.status_code == 200 and h.json()["database"] == "ok"
    await chat(env, "hello")
    m = (await env.c.get("/metrics")).text
    assert 'affagent_turns_total{outcome="ok"} 1.0' in m
    assert 'route="/v1/chat/completions"' in m and "affagent_turn_duration_seconds_bucket" in m


# --------------------------------------------------------------------------- auth and isolation


async def test_auth_required_and_tenants_isolated(env: Env) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = await env.c.get("/v1/sessions", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["type"] == "authentication_error"
    r = await env.c.post("/v1/chat/completions", json=user("hi"))
    assert r.status_code == 401 and env.counts() == (0, 0)
    sid = (await chat(env, "tenant a's secret")).headers["x-session-id"]
    for method, path in [
        ("GET", f"/v1/sessions/{sid}"),
        ("GET", f"/v1/sessions/{sid}/state"),
        ("GET", f"/v1/sessions/{sid}/trajectory"),
        ("DELETE", f"/v1/sessions/{sid}"),
    ]:
        r = await env.c.request(method, path, headers=env.b)
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["code"] == "session_not_found"
    r = await chat(env, "let me in", headers={**env.b, "X-Session-Id": sid})
    assert r.status_code == 404
    r = await chat(env, "let me in", headers=env.b, user=sid)
    assert r.status_code == 404
    assert (await env.c.get("/v1/sessions", headers=env.b)).json()["total"] == 0
    assert env.counts() == (1, 1)  # b's attempts stored nothing, a's session intact


async def test_revoked_key_is_refused(env: Env) -> None:
    keys: KeyStore = env.app.state.service.keys
    info, key = keys.create("tenant-c")
    h = {"Authorization": f"Bearer {key}"}
    assert (await env.c.get("/v1/sessions", headers=h)).status_code == 200
    keys.revoke(info.id)
    assert (await env.c.get("/v1/sessions", headers=h)).status_code == 401


# --------------------------------------------------------------------------- safety


async def test_crisis_turn_is_flagged_stored_and_webhooked(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200)

    app, agent = make_app(sqlite_url(tmp_path), webhook_url="http://hooks.invalid/safety")
    await agent.warm_up()  # the agent owns the webhook (built from the settings)
    assert agent.webhook is not None
    agent.webhook._transport = httpx.MockTransport(hook)
    _, key = app.state.service.keys.create("t")
    h = {"Authorization": f"Bearer {key}", "Accept-Language": "en-GB,en;q=0.8"}
    async with app.router.lifespan_context(app), client(app) as c:
        r = await c.post(
            "/v1/chat/completions", json=user("I don't want to live anymore"), headers=h
        )
        assert r.status_code == 200
        body = r.json()
        reply = body["choices"][0]["message"]["content"]
        assert "Samaritans" in reply and "116 123" in reply
        safety = body["affagent"]["safety"]
        assert safety["action"] == "crisis" and safety["category"] == "self_harm"
        assert body["affagent"]["strategy"] is None
        sid = body["affagent"]["session_id"]
        await agent.webhook.drain()
        # streamed crisis replies too, with an explicit locale
        r2 = await c.post(
            "/v1/chat/completions",
            json=user("I'm going to kill him", stream=True, user=sid, affagent={"locale": "en-US"}),
            headers=h,
        )
        events = sse_events(r2.text)
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
        assert "911" in text and events[-2]["affagent"]["safety"]["category"] == "violence"
        await agent.webhook.drain()
        m = (await c.get("/metrics")).text
    turns = agent.store.turns(sid, "t")
    assert [t.trace.safety["action"] for t in turns if t.trace.safety] == ["crisis", "crisis"]
    assert turns[0].reply == reply
    assert len(seen) == 2 and seen[0]["session_id"] == sid and seen[0]["turn"] == 1
    assert "user_text" not in seen[0] and seen[0]["category"] == "self_harm"
    assert 'affagent_safety_flags_total{action="crisis",category="self_harm"} 1.0' in m
    await agent.aclose()


async def test_webhook_down_does_not_break_the_turn(tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    app, agent = make_app(sqlite_url(tmp_path), webhook_url="http://127.0.0.1:9/none")
    await agent.warm_up()
    assert agent.webhook is not None
    agent.webhook._transport = httpx.MockTransport(down)
    _, key = app.state.service.keys.create("t")
    async with app.router.lifespan_context(app), client(app) as c:
        r = await c.post(
            "/v1/chat/completions",
            json=user("I want to kill myself"),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200
        await agent.webhook.drain()
    assert agent.webhook.failed == 1
    await agent.aclose()


async def test_boundaries_and_hard_negatives(env: Env) -> None:
    r = await chat(env, "Are you a real person?")
    body = r.json()
    assert "not a human" in body["choices"][0]["message"]["content"]
    assert body["affagent"]["safety"]["action"] == "boundary"
    r = await chat(env, "This traffic is killing me, I could murder a pizza")
    assert r.json()["affagent"]["safety"] is None


# --------------------------------------------------------------------------- bad input


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("invalid json", b'{"messages": [', "invalid JSON"),
    ("not an object", b"[1, 2, 3]", ""),
    ("wrong type", json.dumps({"messages": "hello"}).encode(), "messages"),
    ("unknown field", json.dumps({**user("hi"), "bogus": 1}).encode(), "bogus: unknown field"),
    ("tools", json.dumps({**user("hi"), "tools": [{"type": "function"}]}).encode(), "tools"),
    ("empty messages", json.dumps({"messages": []}).encode(), "messages"),
    ("bad role", json.dumps({"messages": [{"role": "wizard", "content": "x"}]}).encode(), "role"),
    (
        "image part",
        json.dumps(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x"}}],
                    }
                ]
            }
        ).encode(),
        "messages",
    ),
    (
        "last is assistant",
        json.dumps(
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
        ).encode(),
        "last message must have role 'user'",
    ),
    ("empty text", json.dumps(user("   \n\t ")).encode(), "empty"),
    ("too long", json.dumps(user("x" * 5000)).encode(), "limit is 4000"),
    ("n=2", json.dumps({**user("hi"), "n": 2}).encode(), "n"),
    ("temperature", json.dumps({**user("hi"), "temperature": "hot"}).encode(), "temperature"),
    ("lone surrogate", b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}', "surrogate"),
    ("NUL", b'{"messages": [{"role": "user", "content": "a\\u0000b"}]}', "NUL"),
    ("invalid utf-8", b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', ""),
    (
        "bad persona",
        json.dumps({**user("hi"), "affagent": {"persona": "../../etc/passwd"}}).encode(),
        "persona",
    ),
    (
        "unknown persona",
        json.dumps({**user("hi"), "affagent": {"persona": "nobody"}}).encode(),
        "unknown persona",
    ),
    ("bad dynamics", json.dumps({**user("hi"), "affagent": {"dynamics": "third:9"}}).encode(), ""),
    ("header and user differ", json.dumps({**user("hi"), "user": "abc"}).encode(), "X-Session-Id"),
]


@pytest.mark.parametrize(("name", "raw", "needle"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_bad_input_is_4xx_and_stores_nothing(
    env: Env, name: str, raw: bytes, needle: str
) -> None:
    headers = {**env.a, "content-type": "application/json"}
    if name == "header and user differ":
        headers["X-Session-Id"] = "zzz"
    r = await env.c.post("/v1/chat/completions", content=raw, headers=headers)
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
    err = r.json()["error"]
    assert err["message"] and needle in err["message"], (name, err)
    assert env.counts() == (0, 0), name


async def test_oversized_body_is_413(env: Env) -> None:
    big = json.dumps(user("x" * 300_000)).encode()
    r = await env.c.post(
        "/v1/chat/completions", content=big, headers={**env.a, "content-type": "application/json"}
    )
    assert r.status_code == 413 and "larger than" in r.json()["error"]["message"]

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted while reading
        for _ in range(40):
            yield b"x" * 10_000

    r = await env.c.post("/v1/chat/completions", content=chunks(), headers=env.a)
    assert r.status_code == 413
    assert env.counts() == (0, 0)


async def test_odd_but_valid_unicode_is_accepted(env: Env) -> None:
    text = "Je suis épuisé 😩 — שלום \u202eevil\u202c 你好 e\u0301"
    r = await chat(env, text)
    assert r.status_code == 200, r.text
    sid = r.headers["x-session-id"]
    stored = env.agent.store.turns(sid, "tenant-a")[0].user_text
    assert "😩" in stored and "\u202e" not in stored  # bidi override removed by the agent


async def test_unknown_routes_and_ids(env: Env) -> None:
    assert (await env.c.get("/v1/nothing", headers=env.a)).status_code == 404
    assert (await env.c.get("/v1/sessions/..%2f..", headers=env.a)).status_code == 404
    assert (await env.c.get("/v1/sessions/" + "x" * 300, headers=env.a)).status_code == 404
    r = await env.c.put("/v1/sessions", headers=env.a)
    assert r.status_code == 405 and r.json()["error"]["message"]
    r = await env.c.get("/v1/sessions?limit=-1", headers=env.a)
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]


# --------------------------------------------------------------------------- faults


async def test_backend_failure_is_502_and_session_stays_usable(tmp_path: Path) -> None:
    app, agent = make_app(sqlite_url(tmp_path), ScriptedBackend(fail_on_call=2))
    _, key = app.state.service.keys.create("t")
    h = {"Authorization": f"Bearer {key}"}
    async with app.router.lifespan_context(app), client(app) as c:
        sid = (await c.post("/v1/chat/completions", json=user("first"), headers=h)).headers[
            "x-session-id"
        ]
        before = agent.store.get_session(sid, "t")
        r = await c.post("/v1/chat/completions", json=user("second", user=sid), headers=h)
        assert r.status_code == 502 and r.json()["error"]["type"] == "backend_error"
        after = agent.store.get_session(sid, "t")
        assert (after.version, after.turns, after.state) == (
            before.version,
            before.turns,
            before.state,
        )
        r = await c.post("/v1/chat/completions", json=user("third", user=sid), headers=h)
        assert r.status_code == 200 and r.json()["affagent"]["turn"] == 2
    await agent.aclose()


async def test_stream_failing_midway_stores_nothing(tmp_path: Path) -> None:
    app, agent = make_app(
        sqlite_url(tmp_path), ScriptedBackend(fail_on_call=2, fail_after_tokens=12)
    )
    _, key = app.state.service.keys.create("t")
    h = {"Authorization": f"Bearer {key}"}
    async with app.router.lifespan_context(app), client(app) as c:
        sid = (await c.post("/v1/chat/completions", json=user("first"), headers=h)).headers[
            "x-session-id"
        ]
        r = await c.post(
            "/v1/chat/completions", json=user("second", user=sid, stream=True), headers=h
        )
        assert r.status_code == 200  # headers were sent before the failure
        events = sse_events(r.text)
        assert events[-1] == "[DONE]" and events[-2]["error"]["type"] == "backend_error"
        # the reply filter passes whole sentences on: at least the first one arrived
        assert sum(1 for e in events if isinstance(e, dict) and "choices" in e) >= 2
        assert agent.store.get_session(sid, "t").turns == 1
        r = await c.post("/v1/chat/completions", json=user("third", user=sid), headers=h)
        assert r.json()["affagent"]["turn"] == 2
    await agent.aclose()


async def test_stream_failing_before_first_token_is_502(tmp_path: Path) -> None:
    app, agent = make_app(sqlite_url(tmp_path), ScriptedBackend(fail_after_tokens=0))
    _, key = app.state.service.keys.create("t")
    async with app.router.lifespan_context(app), client(app) as c:
        r = await c.post(
            "/v1/chat/completions",
            json=user("hello", stream=True),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 502 and r.json()["error"]["code"] == "backend_failed"
        sid = r.headers.get("x-session-id")
    assert sid is None and agent.store.list_sessions("t") == []  # the new session is removed
    await agent.aclose()


async def test_client_disconnect_mid_stream_stores_nothing(tmp_path: Path) -> None:
    """A raw ASGI call that disconnects after the first chunks: the turn must not be stored
    and the session must take the next turn."""
    app, agent = make_app(sqlite_url(tmp_path), ScriptedBackend(delay_s=0.05))
    _, key = app.state.service.keys.create("t")
    auth = f"Bearer {key}".encode()
    async with app.router.lifespan_context(app), client(app) as c:
        sid = (
            await c.post(
                "/v1/chat/completions", json=user("first"), headers={"Authorization": auth.decode()}
            )
        ).headers["x-session-id"]
        body = json.dumps(user("tell me a long story", user=sid, stream=True)).encode()
        sent: list[dict[str, Any]] = []
        disconnect = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            chunks = [m for m in sent if m["type"] == "http.response.body" and m.get("body")]
            if len(chunks) >= 2:
                disconnect.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"authorization", auth),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 80),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=30)
        assert sent[0]["status"] == 200 and disconnect.is_set()
        rec = agent.store.get_session(sid, "t")
        assert rec.turns == 1 and rec.version == 1
        r = await c.post(
            "/v1/chat/completions",
            json=user("still there?", user=sid),
            headers={"Authorization": auth.decode()},
        )
        assert r.status_code == 200 and r.json()["affagent"]["turn"] == 2
        m = (await c.get("/metrics")).text
        assert 'affagent_turns_total{outcome="cancelled"} 1.0' in m
    await agent.aclose()


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_turns_on_one_session_never_interleave(tmp_path: Path) -> None:
    """Same worker: the two requests are serialised. Two workers (two apps over one
    database): the loser gets 409 or waits; either way turns are 1..n with no gaps, and
    every 200 answer is a stored turn."""
    url = sqlite_url(tmp_path)
    app1, agent1 = make_app(url, ScriptedBackend(delay_s=0.02))
    app2, agent2 = make_app(url, ScriptedBackend(delay_s=0.02))
    _, key = app1.state.service.keys.create("t")
    h = {"Authorization": f"Bearer {key}"}
    async with (
        app1.router.lifespan_context(app1),
        app2.router.lifespan_context(app2),
        client(app1) as c1,
        client(app2) as c2,
    ):
        sid = (await c1.post("/v1/sessions", json={}, headers=h)).json()["id"]
        same = await asyncio.gather(
            *[
                c1.post("/v1/chat/completions", json=user(f"same {i}", user=sid), headers=h)
                for i in range(3)
            ]
        )
        assert [r.status_code for r in same] == [200, 200, 200]
        assert sorted(r.json()["affagent"]["turn"] for r in same) == [1, 2, 3]
        cross = await asyncio.gather(
            *[
                (c1 if i % 2 else c2).post(
                    "/v1/chat/completions", json=user(f"cross {i}", user=sid), headers=h
                )
                for i in range(4)
            ]
        )
        codes = [r.status_code for r in cross]
        assert set(codes) <= {200, 409}, codes
        assert 409 in codes
        for r in cross:
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "concurrent_turn"
                assert r.headers["retry-after"] == "1"
    turns = agent1.store.turns(sid, "t")
    ok = [r.json()["affagent"]["turn"] for r in cross if r.status_code == 200]
    assert [t.turn for t in turns] == list(range(1, 4 + len(ok)))
    assert {t.user_text for t in turns[3:]} == {
        f"cross {i}" for i, r in enumerate(cross) if r.status_code == 200
    }
    await agent1.aclose()
    await agent2.aclose()


# --------------------------------------------------------------------------- schema


async def test_openapi_declares_errors_and_matches(env: Env) -> None:
    schema = (await env.c.get("/openapi.json")).json()
    op = schema["paths"]["/v1/chat/completions"]["post"]
    assert {"200", "400", "401", "404", "409", "413", "502"} <= set(op["responses"])
    assert "422" not in json.dumps(schema["paths"])
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    sess = schema["paths"]["/v1/sessions/{session_id}"]["get"]
    assert "404" in sess["responses"] and "401" in sess["responses"]


async def test_openai_client_works_with_a_base_url_change(env: Env) -> None:
    openai = pytest.importorskip("openai")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app))
    oc = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=env.key_a, http_client=http)
    resp = await oc.chat.completions.create(
        model="affagent",
        messages=[{"role": "user", "content": "I'm nervous about tomorrow."}],
        extra_body={"affagent": {"persona": "warm-companion"}},
    )
    assert resp.choices[0].message.content
    extra = resp.model_extra or {}
    sid = extra["affagent"]["session_id"]
    stream = await oc.chat.completions.create(
        model="affagent",
        messages=[{"role": "user", "content": "Thanks!"}],
        stream=True,
        user=sid,
    )
    parts = [c.choices[0].delta.content or "" async for c in stream]
    assert "".join(parts)
    assert env.agent.store.get_session(sid, "tenant-a").persona == "warm-companion"
    assert env.agent.store.get_session(sid, "tenant-a").turns == 2
    with pytest.raises(openai.AuthenticationError):
        bad = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key="x", http_client=http)
        await bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    await http.aclose()


async def test_a_body_that_is_not_utf8_is_a_400_with_a_code(env: Env) -> None:
    before = env.counts()
    body = b'{"messages": [{"role": "user", "content": "hi \xff\xfe"}]}'
    r = await env.c.post(
        "/v1/chat/completions",
        content=body,
        headers={**env.a, "content-type": "application/json"},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_request" and "UTF-8" in err["message"]
    assert env.counts() == before

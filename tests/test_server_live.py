"""The real thing: `affagent serve` as a uvicorn subprocess on 127.0.0.1, keys made with the
CLI, spoken to with httpx over TCP; plus the bounded load test (no turn lost)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
FAST = ["--estimator", "keywords", "--classifier", "none", "--selector", "none"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "affagent", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Live:
    def __init__(self, url: str, env: dict[str, str], proc: subprocess.Popen[str]) -> None:
        self.url, self.env, self.proc = url, env, proc


def _serve(home: Path, delay_s: float) -> Iterator[Live]:
    """`affagent serve` on a free port, the scripted backend waiting ``delay_s`` per word."""
    env = {**os.environ, "AFFAGENT_HOME": str(home), "AFFAGENT_DATABASE_URL": ""}
    env.pop("AFFAGENT_DATABASE_URL")
    port = _free_port()
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "affagent",
            "serve",
            "--backend",
            "scripted",
            *FAST,
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--backend-option",
            f"delay_s={delay_s}",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("server did not start within 120 s")
        time.sleep(0.3)
    yield Live(url, env, proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from _serve(tmp_path_factory.mktemp("live-home"), 0.03)


@pytest.fixture()
def slow_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Words 0.3 s apart: the reply streams for seconds, so a client that leaves after the
    first sentence leaves while the reply is still being generated (the reply filter passes
    whole sentences, and the scripted reply has two)."""
    yield from _serve(tmp_path_factory.mktemp("slow-home"), 0.3)


def test_cli_keys_and_real_http_roundtrip(live: Live) -> None:
    made = _cli(live.env, "keys", "create", "--tenant", "acme", "--name", "live", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout.strip().splitlines()[-1])["key"]
    other = json.loads(
        _cli(live.env, "keys", "create", "--tenant", "other", "--json").stdout.splitlines()[-1]
    )["key"]
    listed = json.loads(_cli(live.env, "keys", "list", "--json").stdout.splitlines()[-1])
    assert {k["tenant"] for k in listed["keys"]} == {"acme", "other"}
    assert key not in json.dumps(listed)  # never the secret
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=live.url, timeout=60) as c:
        assert c.post("/v1/chat/completions", json={"messages": []}).status_code == 401
        r = c.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "I'm so tired of everything at work"}]},
            headers=h,
        )
        assert r.status_code == 200, r.text
        sid = r.headers["x-session-id"]
        assert r.json()["affagent"]["turn"] == 1
        with c.stream(
            "POST",
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "thanks"}], "stream": True},
            headers={**h, "X-Session-Id": sid},
        ) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"
        assert json.loads(lines[-2][6:])["affagent"]["turn"] == 2
        assert c.get(f"/v1/sessions/{sid}", headers=h).json()["turns"] == 2
        other_h = {"Authorization": f"Bearer {other}"}
        assert c.get(f"/v1/sessions/{sid}", headers=other_h).status_code == 404
        big = b'{"messages": [{"role": "user", "content": "' + b"x" * 400_000 + b'"}]}'
        r = c.post(
            "/v1/chat/completions", content=big, headers={**h, "content-type": "application/json"}
        )
        assert r.status_code == 413
        assert "affagent_http_requests_total" in c.get("/metrics").text
        revoked = _cli(live.env, "keys", "revoke", key.split("_")[1])
        assert revoked.returncode == 0, revoked.stderr
        assert c.get("/v1/sessions", headers=h).status_code == 401


def test_serve_refuses_a_busy_port_and_no_auth_off_localhost(live: Live) -> None:
    port = live.url.rsplit(":", 1)[1]
    busy = _cli(live.env, "serve", "--backend", "scripted", "--port", port)
    assert busy.returncode == 2 and busy.stderr.startswith("error: cannot listen")
    assert "Traceback" not in busy.stderr
    open_ = _cli(live.env, "serve", "--backend", "scripted", "--host", "0.0.0.0", "--no-auth")
    assert open_.returncode == 2 and "--no-auth" in open_.stderr


def test_bounded_load_loses_no_turn() -> None:
    """The benchmark script against its own server: 30 sessions x 3 turns, 15 in flight."""
    out = subprocess.run(
        [
            PY,
            str(ROOT / "scripts" / "bench_server.py"),
            "--sessions",
            "30",
            "--turns",
            "3",
            "--concurrency",
            "15",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["requests"] == 90 and res["ok"] == 90 and res["errors"] == {}
    assert res["lost_turns"] == 0 and res["stored"] == 90
    assert res["p50_ms"] > 0 and res["p99_ms"] >= res["p50_ms"]


def test_client_disconnect_over_tcp_stores_nothing(slow_live: Live) -> None:
    live = slow_live
    made = _cli(live.env, "keys", "create", "--tenant", "drop", "--json")
    key = json.loads(made.stdout.strip().splitlines()[-1])["key"]
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=live.url, timeout=60) as c:
        sid = c.post("/v1/sessions", json={}, headers=h).json()["id"]
        body = {"messages": [{"role": "user", "content": "tell me more"}], "stream": True}
        with c.stream(
            "POST", "/v1/chat/completions", json=body, headers={**h, "X-Session-Id": sid}
        ) as s:
            got = 0
            for line in s.iter_lines():
                got += line.startswith("data: ")
                if got >= 2:  # the role chunk, then the first sentence
                    break  # leaving the block closes the connection mid-reply
        # wait until the server has noticed the disconnect and unwound the turn
        deadline = time.monotonic() + 60
        while 'outcome="cancelled"' not in c.get("/metrics").text:
            assert time.monotonic() < deadline, "the server never saw the disconnect"
            time.sleep(0.05)
        rec = c.get(f"/v1/sessions/{sid}", headers=h).json()
        assert rec["turns"] == 0 and rec["version"] == 0
        r = c.post("/v1/chat/completions", json={**body, "stream": False, "user": sid}, headers=h)
        assert r.status_code == 200 and r.json()["affagent"]["turn"] == 1
        assert 'affagent_turns_total{outcome="cancelled"}' in c.get("/metrics").text

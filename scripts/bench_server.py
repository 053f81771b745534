#!/usr/bin/env python3
"""Load test of the HTTP service: many concurrent sessions, every turn accounted for.

Starts `affagent serve` on 127.0.0.1 (scripted backend, a throwaway SQLite database unless
--database is given) or uses --url; creates --sessions sessions, runs --turns turns in each
(turns of one session in order, sessions concurrently, at most --concurrency requests in
flight), then reads every session back and checks that the stored turn count equals the
number of 200 answers: a "lost turn" is a 200 whose turn is not stored, or a stored turn
nobody got an answer for. Prints latency percentiles and throughput; --json prints one JSON
object on the last line.

    .venv/bin/python scripts/bench_server.py --sessions 50 --turns 4 --concurrency 25
    .venv/bin/python scripts/bench_server.py --workers 2 --database postgresql://...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


class Server:
    """`affagent serve` in a subprocess on 127.0.0.1, with its own home and API key."""

    def __init__(self, workers: int, database: str | None, delay_ms: float) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="affagent-bench-")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = database or f"sqlite:///{self.tmp.name}/bench.db"
        self.env = {
            **os.environ,
            "AFFAGENT_HOME": self.tmp.name,
            "AFFAGENT_DATABASE_URL": db,
        }
        py = sys.executable
        out = subprocess.run(
            [py, "-m", "affagent", "keys", "create", "--tenant", "bench", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        self.key = json.loads(out.stdout.strip().splitlines()[-1])["key"]
        self.proc = subprocess.Popen(
            [
                py,
                "-m",
                "affagent",
                "serve",
                "--backend",
                "scripted",
                "--estimator",
                "keywords",
                "--classifier",
                "none",
                "--selector",
                "none",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--backend-option",
                f"delay_s={delay_ms / 1000}",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self, timeout: float = 120) -> None:
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {self.proc.stderr.read() if self.proc.stderr else ''}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError("server did not come up")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


async def run_load(
    url: str, key: str, sessions: int, turns: int, concurrency: int, stream: bool
) -> dict[str, Any]:
    h = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    ok_turns: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=url, headers=h, timeout=120, limits=limits) as c:
        ids = []
        for _ in range(sessions):
            r = await c.post("/v1/sessions", json={})
            r.raise_for_status()
            ids.append(r.json()["id"])

        async def one_session(sid: str) -> None:
            ok_turns[sid] = 0
            for t in range(turns):
                body = {
                    "messages": [{"role": "user", "content": f"turn {t}: my day was odd"}],
                    "user": sid,
                    "stream": stream,
                }
                async with sem:
                    t0 = time.perf_counter()
                    try:
                        r = await c.post("/v1/chat/completions", json=body)
                        text = r.text
                    except httpx.HTTPError as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                        continue
                    dt = time.perf_counter() - t0
                if r.status_code == 200 and (
                    not stream or ("[DONE]" in text and '"error"' not in text)
                ):
                    ok_turns[sid] += 1
                    latencies.append(dt)
                else:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one_session(s) for s in ids))
        wall = time.perf_counter() - t0
        stored: dict[str, int] = {}
        for sid in ids:
            stored[sid] = (await c.get(f"/v1/sessions/{sid}")).json()["turns"]
            await c.delete(f"/v1/sessions/{sid}")  # leave a shared database as found
    lost = sum(abs(stored[s] - ok_turns[s]) for s in ids)
    answered = sum(ok_turns.values())
    return {
        "sessions": sessions,
        "turns_per_session": turns,
        "concurrency": concurrency,
        "stream": stream,
        "requests": sessions * turns,
        "ok": answered,
        "errors": errors,
        "stored": sum(stored.values()),
        "lost_turns": lost,
        "wall_s": round(wall, 3),
        "turns_per_s": round(answered / wall, 2) if wall else 0.0,
        "p50_ms": round(_pct(latencies, 50) * 1000, 1),
        "p90_ms": round(_pct(latencies, 90) * 1000, 1),
        "p99_ms": round(_pct(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=25)
    ap.add_argument("--stream", action="store_true", help="use SSE streaming")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database", default=None, help="database URL (default: temp SQLite)")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="scripted per-word delay")
    ap.add_argument("--url", default=None, help="use a running server instead")
    ap.add_argument("--key", default=os.environ.get("AFFAGENT_BENCH_KEY"), help="with --url")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    a = ap.parse_args(argv)
    server = None
    if a.url:
        if not a.key:
            print("error: --url needs --key (or AFFAGENT_BENCH_KEY)", file=sys.stderr)
            return 2
        url, key = a.url, a.key
    else:
        server = Server(a.workers, a.database, a.delay_ms)
        try:
            server.wait()
        except Exception:
            server.stop()
            raise
        url, key = server.url, server.key
    try:
        res = asyncio.run(run_load(url, key, a.sessions, a.turns, a.concurrency, a.stream))
    finally:
        if server:
            server.stop()
    res["workers"] = a.workers
    res["database"] = "sqlite" if not a.database else a.database.split(":")[0]
    if a.json:
        print(json.dumps(res))
    else:
        print(
            f"{res['ok']}/{res['requests']} turns ok, lost {res['lost_turns']}, errors "
            f"{res['errors'] or 'none'}; {res['turns_per_s']} turns/s; latency p50 "
            f"{res['p50_ms']} ms, p90 {res['p90_ms']} ms, p99 {res['p99_ms']} ms "
            f"({res['sessions']} sessions x {res['turns_per_session']} turns, concurrency "
            f"{res['concurrency']}, {a.workers} worker(s), {res['database']}"
            f"{', streaming' if a.stream else ''})"
        )
    return 0 if res["lost_turns"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

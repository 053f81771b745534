#!/usr/bin/env python
"""Backend throughput: time to first token (TTFT) and decode tokens/s for the embedded
llama.cpp backend and for the openai backend against a local llama-cpp-python server, plus
server throughput at concurrency 1 vs N (the ratio is the figure to quote).

    .venv/bin/python scripts/bench_backends.py                 # default GGUF, 5 runs, N=4
    .venv/bin/python scripts/bench_backends.py --runs 3 --max-tokens 48 --concurrency 4 --json

Tokens are counted by re-tokenising each reply with the same GGUF, so both paths count alike.
Figures are medians over runs; the last stdout line is one JSON object with --json. Load on a
shared machine moves absolute numbers a lot; ratios measured within one run are the ones to
compare (the load average is printed with the results).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.backends import load_backend
from affagent.backends._embedded import EmbeddedBackend, default_gguf_path
from affagent.backends.local_server import llama_server
from affagent.types import Backend, ChatMessage, GenerationParams

PROMPTS = [
    "I had a rough day at work and my manager ignored my idea.",
    "Can you suggest a calm way to start the morning?",
    "My sister is visiting next week and I'm excited but nervous.",
    "What is a good way to tell a friend I need some space?",
]
SYSTEM = "You are a warm, concise assistant. Your current valence is +0.20 (mildly content)."


def messages(i: int) -> list[ChatMessage]:
    return [ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=PROMPTS[i % len(PROMPTS)])]


async def one_stream(backend: Backend, i: int, params: GenerationParams,
                     count: Any) -> dict[str, float]:
    """One streamed reply; also the event loop's worst stall meanwhile (a 10 ms ticker)."""
    lag = 0.0

    async def ticker() -> None:
        nonlocal lag
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lag = max(lag, time.perf_counter() - t - 0.01)

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    ttft = None
    parts: list[str] = []
    async for d in backend.stream(messages(i), params):
        if ttft is None:
            ttft = time.perf_counter() - t0
        parts.append(d)
    total = time.perf_counter() - t0
    tick.cancel()
    tokens = count("".join(parts))
    ttft = ttft if ttft is not None else total
    decode_s = max(total - ttft, 1e-9)
    return {"ttft_s": ttft, "total_s": total, "tokens": tokens,
            "decode_tok_s": max(tokens - 1, 0) / decode_s, "e2e_tok_s": tokens / total,
            "loop_stall_ms": lag * 1000}


def median(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 3)


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    out = {k: median(rows, k) for k in ("ttft_s", "decode_tok_s", "e2e_tok_s", "tokens")}
    out["loop_stall_ms_max"] = round(max(r["loop_stall_ms"] for r in rows), 1)
    return out


async def bench_concurrent(backend: Backend, n: int, rounds: int, params: GenerationParams,
                           count: Any) -> dict[str, float]:
    """n streams at once, ``rounds`` times; aggregate tokens/s = all tokens / wall time."""
    aggs: list[float] = []
    ttfts: list[float] = []
    for r in range(rounds):
        t0 = time.perf_counter()
        rows = await asyncio.gather(*(one_stream(backend, r * n + i, params, count)
                                      for i in range(n)))
        wall = time.perf_counter() - t0
        aggs.append(sum(x["tokens"] for x in rows) / wall)
        ttfts.extend(x["ttft_s"] for x in rows)
    return {"concurrency": n, "aggregate_tok_s": round(statistics.median(aggs), 3),
            "ttft_median_s": round(statistics.median(ttfts), 3),
            "ttft_max_s": round(max(ttfts), 3)}


async def cancel_latency(emb: EmbeddedBackend, trials: int = 3) -> float:
    """Median ms from closing a stream mid-reply to the model being free for the next call."""
    loaded = emb.load()
    out = []
    for i in range(trials):
        agen = emb.stream(messages(i), GenerationParams(max_tokens=400, seed=i))
        for _ in range(3):
            await agen.__anext__()
        t0 = time.perf_counter()
        await agen.aclose()  # type: ignore[attr-defined]
        while not loaded.lock.acquire(blocking=False):
            await asyncio.sleep(0.001)
        out.append((time.perf_counter() - t0) * 1000)
        loaded.lock.release()
    return round(statistics.median(out), 1)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    gguf = args.model or default_gguf_path()
    # unseeded, like the agent's default: a seeded embedded call re-evaluates the whole prompt
    # (reproducible, slower first token); --seed measures that path
    params = GenerationParams(max_tokens=args.max_tokens, temperature=0.7, seed=args.seed)
    result: dict[str, Any] = {"model": Path(gguf).name, "max_tokens": args.max_tokens,
                              "seed": args.seed,
                              "runs": args.runs, "cpus": len(os.sched_getaffinity(0))}

    emb = EmbeddedBackend(gguf, n_ctx=2048, n_threads=args.threads,
                          n_threads_batch=args.threads)
    t0 = time.perf_counter()
    loaded = emb.load()
    result["embedded_load_s"] = round(time.perf_counter() - t0, 3)

    def count(text: str) -> int:
        return len(loaded.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    with contextlib.ExitStack() as stack:
        backends: dict[str, Backend] = {}
        if "embedded" in args.only:
            backends["embedded"] = emb
        if "server" in args.only:
            print("[bench] starting llama_cpp.server ...", file=sys.stderr)
            t0 = time.perf_counter()
            srv = stack.enter_context(llama_server(gguf, n_ctx=2048, n_threads=args.threads))
            result["server_start_s"] = round(time.perf_counter() - t0, 3)
            backends["server"] = load_backend("openai", base_url=srv.base_url, timeout=300)
        # interleaved runs, so both paths see the same machine load
        rows: dict[str, list[dict[str, float]]] = {k: [] for k in backends}
        for b in backends.values():
            await b.generate(messages(0), GenerationParams(max_tokens=4, seed=0))  # warm-up
        for i in range(args.runs):
            print(f"[bench] run {i + 1}/{args.runs}", file=sys.stderr)
            for name, b in backends.items():
                rows[name].append(await one_stream(b, i, params, count))
        for name in backends:
            result[name] = summary(rows[name])
        if "embedded" in backends:
            result["embedded"]["cancel_to_free_ms"] = await cancel_latency(emb)
        if "embedded" in rows and "server" in rows:
            result["server_vs_embedded_decode_ratio"] = round(
                result["server"]["decode_tok_s"] / max(result["embedded"]["decode_tok_s"], 1e-9),
                3)
        if "server" in backends:
            backend = backends["server"]
            print(f"[bench] server concurrency 1 vs {args.concurrency} ...", file=sys.stderr)
            c1 = await bench_concurrent(backend, 1, args.rounds, params, count)
            cn = await bench_concurrent(backend, args.concurrency, args.rounds, params, count)
            result["server_concurrency"] = [c1, cn]
            result["server_concurrency_ratio"] = round(
                cn["aggregate_tok_s"] / max(c1["aggregate_tok_s"], 1e-9), 3)
            await backend.aclose()
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--model", help="GGUF path (default: the embedded default model)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the concurrency test")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None, help="sampling seed (default: none)")
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp threads, decode and prompt (default: half the cores)")
    ap.add_argument("--only", nargs="+", default=["embedded", "server"],
                    choices=["embedded", "server"])
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args()
    res = asyncio.run(main_async(args))
    if "embedded" in res:
        e = res["embedded"]
        print(f"embedded  load {res['embedded_load_s']:.2f} s  TTFT {e['ttft_s']:.3f} s  "
              f"decode {e['decode_tok_s']:.1f} tok/s  end-to-end {e['e2e_tok_s']:.1f} tok/s  "
              f"worst event-loop stall {e['loop_stall_ms_max']:.0f} ms  "
              f"cancel→model free {e['cancel_to_free_ms']:.0f} ms")
    if "server" in res:
        s = res["server"]
        print(f"server    start {res['server_start_s']:.2f} s  TTFT {s['ttft_s']:.3f} s  "
              f"decode {s['decode_tok_s']:.1f} tok/s  end-to-end {s['e2e_tok_s']:.1f} tok/s")
        c1, cn = res["server_concurrency"]
        print(f"server    concurrency 1: {c1['aggregate_tok_s']:.1f} tok/s; "
              f"concurrency {cn['concurrency']}: {cn['aggregate_tok_s']:.1f} tok/s "
              f"(ratio {res['server_concurrency_ratio']:.2f}); TTFT median/max at "
              f"{cn['concurrency']}: {cn['ttft_median_s']:.2f}/{cn['ttft_max_s']:.2f} s")
    if "server_vs_embedded_decode_ratio" in res:
        print(f"server/embedded decode ratio {res['server_vs_embedded_decode_ratio']:.2f}")
    print(f"load average (1 min) {res['loadavg_1m']} on {res['cpus']} CPUs")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Protocol-runner throughput: turns per second at concurrency 1 and N against one backend.

Each level runs the same protocol (first ``--turns`` turns) × conditions × seeds through the
real runner and the real Agent into a fresh directory, measured within one process, and the
script prints turns/s per level and the ratio to concurrency 1.

    # the scripted backend with a per-token delay (an I/O-bound backend: should scale)
    python scripts/bench_protocol.py --backend scripted --delay 0.02 --concurrency 1,8

    # the OpenAI-compatible backend against a local llama.cpp server (started here)
    python scripts/bench_protocol.py --backend openai --llama-server --concurrency 1,4

    # any running server (e.g. vLLM, which batches concurrent requests)
    python scripts/bench_protocol.py --backend openai --base-url http://host:8000/v1 \
        --model Qwen/Qwen2.5-7B-Instruct --concurrency 1,16

Perception defaults to the cheap keyword estimator and no classifier/selector, so the
figure is about the backend and the runner; pass ``--estimator default`` etc. for full turns.
The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from affagent.evals.protocol import load_protocol, resolve_protocol_path  # noqa: E402
from affagent.evals.results import parse_conditions  # noqa: E402
from affagent.evals.runner import RunPlan, agent_factory, run_plan  # noqa: E402


@contextlib.contextmanager
def maybe_server(args: argparse.Namespace) -> Iterator[str | None]:
    if not args.llama_server:
        yield args.base_url
        return
    from affagent.backends.local_server import llama_server

    # interrupt_requests is off there: concurrent clients queue instead of cancelling each
    # other (the server's own default), which gave empty replies
    with llama_server(n_threads=args.n_threads) as srv:
        yield srv.base_url


def bench_level(args: argparse.Namespace, concurrency: int, base_url: str | None,
                workdir: Path) -> dict[str, Any]:
    path = resolve_protocol_path(args.protocol)
    proto = load_protocol(path)
    proto = proto.model_copy(update={"turns": proto.turns[: args.turns]})
    out = workdir / f"c{concurrency}-{len(list(workdir.iterdir()))}"
    gen = {"max_tokens": args.max_tokens}
    plan = RunPlan(
        protocol=proto, protocol_path=path, conditions=parse_conditions(args.conditions),
        seeds=list(range(args.seeds)), persona=args.persona, out=out, backend=args.backend,
        model=args.model, generation=gen, concurrency=concurrency,
    )
    options: dict[str, Any] = {}
    if args.backend == "scripted" and args.delay:
        options["delay_s"] = args.delay
    make = agent_factory(
        out, persona=args.persona, backend=args.backend, base_url=base_url, model=args.model,
        generation=gen, estimator=args.estimator, classifier=args.classifier,
        selector=args.selector, backend_options=options,
    )
    t0 = time.perf_counter()
    asyncio.run(run_plan(plan, make))
    wall = time.perf_counter() - t0
    n = plan.total_turns
    return {"concurrency": concurrency, "turns": n, "seconds": wall, "turns_per_s": n / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="scripted", choices=["scripted", "openai", "embedded"])
    ap.add_argument("--delay", type=float, default=0.02, help="scripted: seconds per token")
    ap.add_argument("--base-url")
    ap.add_argument("--model")
    ap.add_argument("--llama-server", action="store_true",
                    help="start llama-cpp-python's server on the SmolLM2 GGUF for this run")
    ap.add_argument("--n-threads", type=int, default=None, help="llama.cpp server threads")
    ap.add_argument("--concurrency", default="1,8", help="levels, e.g. 1,4,8")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the levels R times, interleaved (1,8,1,8,...), and report the "
                    "median per level: on a shared machine the load drifts between levels")
    ap.add_argument("--protocol", default="adversarial-reconciliation")
    ap.add_argument("--turns", type=int, default=10, help="first N turns of the protocol")
    ap.add_argument("--conditions", default="stateless,first:0.3,second:0.8,second:0.95")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--persona", default="calm-counsellor")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--estimator", default="keywords")
    ap.add_argument("--classifier", default="none")
    ap.add_argument("--selector", default="none")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if args.backend == "openai" and not (args.base_url or args.llama_server):
        raise SystemExit("error: --backend openai needs --base-url or --llama-server")
    if args.backend == "openai" and not args.model:
        args.model = "smollm2"  # llama.cpp's server answers to any model name
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in levels}
    with maybe_server(args) as base_url, tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for c in levels:
                r = bench_level(args, c, base_url, Path(tmp))
                runs[c].append(r)
                print(f"[{rep + 1}/{args.repeat}] concurrency {c:>3}: {r['turns']} turns in "
                      f"{r['seconds']:.2f} s = {r['turns_per_s']:.3f} turns/s", flush=True)
    results = []
    for c in levels:
        rates = sorted(r["turns_per_s"] for r in runs[c])
        results.append({"concurrency": c, "turns": runs[c][0]["turns"],
                        "turns_per_s": statistics.median(rates), "all": rates})
    base = results[0]["turns_per_s"]
    for r in results:
        r["ratio"] = r["turns_per_s"] / base
    for r in results:
        print(f"concurrency {r['concurrency']:>3}: median {r['turns_per_s']:.3f} turns/s "
              f"(x{r['ratio']:.2f})")
    print(json.dumps({"backend": args.backend, "delay": args.delay if args.backend == "scripted"
                      else None, "repeat": args.repeat, "levels": results}))

if __name__ == "__main__":
    main()

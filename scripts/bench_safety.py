#!/usr/bin/env python
"""What the crisis check costs: per-turn latency and cold start, rules vs the default hybrid.

Figures:
  latency  median / p90 ms of ``detector.assess(text, history)`` per message (2 previous user
           messages as history), after warm-up, for ``rules``, ``learned`` and ``hybrid``
           (= ``auto`` where the encoder is installed); texts from evals/safety/test.jsonl
  cold     a fresh process: import of ``affagent.safety``, ``SafetyGuard()`` and the first
           ``check()`` (model load + one pass), with the ONNX export already cached (what
           ``affagent prepare`` builds); and whether torch was imported (it must not be)

The full ``affagent say`` cold start is ``scripts/bench_turn.py --only cold`` (it builds the
guard the same way). Usage::

    python scripts/bench_safety.py [--only latency,cold] [--runs 200] [--cold-runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLD = r"""
import json, sys, time
t0 = time.perf_counter()
from affagent.safety import SafetyGuard, load_detector
t1 = time.perf_counter()
guard = SafetyGuard(load_detector(sys.argv[1]))
t2 = time.perf_counter()
d = guard.check("I had a rough day at work", history=["hi", "long week"])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "guard_s": t2 - t1, "first_check_s": t3 - t2,
                  "total_s": t3 - t0, "detector": guard.detector.name,
                  "torch_imported": "torch" in sys.modules}))
"""


def bench_latency(runs: int) -> dict[str, object]:
    from affagent.safety import load_detector, load_items

    items = load_items(ROOT / "evals" / "safety" / "test.jsonl")
    texts = [i.text for i in items]
    cases = [(texts[i % len(texts)], [texts[(i - 2) % len(texts)], texts[(i - 1) % len(texts)]])
             for i in range(runs)]
    out: dict[str, object] = {}
    for name in ("rules", "learned", "hybrid"):
        det = load_detector(name)
        warm = getattr(det, "warm_up", None)
        if callable(warm):
            warm()
        ms = []
        for k, (text, hist) in enumerate(cases):
            # a new text each call (the encoder caches by text): add a turn number
            t0 = time.perf_counter()
            det.assess(f"{text} ({k})", hist)
            ms.append((time.perf_counter() - t0) * 1000)
        ms.sort()
        out[name] = {"median_ms": round(statistics.median(ms), 3),
                     "p90_ms": round(ms[int(0.9 * len(ms))], 3), "n": len(ms)}
        print(f"latency {name:<8} median {out[name]['median_ms']} ms, "  # type: ignore[index]
              f"p90 {out[name]['p90_ms']} ms over {len(ms)} messages")  # type: ignore[index]
    return out


def bench_cold(runs: int) -> dict[str, object]:
    from affagent.safety import load_detector

    warm = getattr(load_detector("auto"), "warm_up", None)
    if callable(warm):
        warm()  # the export exists before the timed runs, as after `affagent prepare`
    out: dict[str, object] = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for name in ("rules", "auto"):
        rows = []
        for _ in range(runs):
            r = subprocess.run([sys.executable, "-c", COLD, name], capture_output=True,
                               text=True, cwd=ROOT, env=env, check=True)
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        med = {k: round(statistics.median(float(x[k]) for x in rows), 3)
               for k in ("import_s", "guard_s", "first_check_s", "total_s")}
        out[name] = {**med, "detector": rows[0]["detector"],
                     "torch_imported": any(x["torch_imported"] for x in rows), "runs": runs}
        print(f"cold {name:<5} ({rows[0]['detector']}): import {med['import_s']} s, guard "
              f"{med['guard_s']} s, first check {med['first_check_s']} s, total "
              f"{med['total_s']} s; torch imported: {out[name]['torch_imported']}")  # type: ignore[index]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="latency,cold")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--cold-runs", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    which = set(args.only.split(","))
    res: dict[str, object] = {}
    if "latency" in which:
        res["latency"] = bench_latency(args.runs)
    if "cold" in which:
        res["cold"] = bench_cold(args.cold_runs)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

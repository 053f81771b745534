#!/usr/bin/env python
"""Does a per-strategy steering direction raise strategy adherence? (issue 15 asked: "and per
strategy, if it helps adherence").

1. Directions: for each ESConv strategy, the mean residual stream (per block, averaged over
   the assistant's tokens, as ``scripts/steering_vectors.py`` reads it) of ESConv *train*
   supporter replies with that strategy, after the seeker turn they answered, minus the mean
   of the eight strategy means; rescaled per block to the shipped V direction's norm.
   (``scripts/strategy_directions.py``, which adds the shipped ones.)
2. The injection benchmark as shipped (same cases, prompts, judge and scoring), with one
   more method, ``stratsteer``: the shipped ``steer`` plus the target strategy's direction at
   coefficient ``--coef`` (the shipped steering scale applies on top), for all eight strategies.
   Compared with ``steer`` on V, A and D alone. Beside the benchmark's figures it counts what
   the judge does not see: replies with digits and replies over 50 words, per strategy.

    python scripts/strategy_steering_probe.py --train ../shared/data/esconv/train.jsonl \\
        --data ../shared/data/esconv/valid.jsonl --n 40 --per-strategy 150 --coef 1.0
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from steering_vectors import Activations  # noqa: E402
from strategy_directions import strategy_directions, supporter_turns  # noqa: E402

from affagent.affect.state import AffectState  # noqa: E402
from affagent.prompting import InjectionPlan, register_injection  # noqa: E402
from affagent.strategy.metrics import STRATEGY_NAMES as STRATEGIES  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, required=True, help="ESConv train JSONL")
    ap.add_argument("--data", type=Path, required=True, help="ESConv valid JSONL (the cases)")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-strategy", type=int, default=150)
    ap.add_argument("--coef", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/strategy_steering"))
    args = ap.parse_args()

    from affagent.backends import default_gguf_path
    from affagent.backends._embedded import EmbeddedBackend
    from affagent.backends._steering import SteeringVectors
    from affagent.evals.injection.benchmark import BenchmarkConfig, run_benchmark
    from affagent.evals.injection.cases import load_cases

    gguf = Path(default_gguf_path()).resolve()
    acts = Activations(gguf, args.threads)
    rows = supporter_turns(args.train, args.per_strategy, args.seed)
    backend = EmbeddedBackend()
    vec = backend.steering_vectors()
    assert vec is not None, "no shipped steering vectors"
    ref = np.linalg.norm(vec.directions["V"], axis=1, keepdims=True)
    dirs = {k: v for k, v in vec.directions.items() if k in ("V", "A", "D")}
    for s, d in strategy_directions(acts, rows, args.cache / "acts", ref).items():
        dirs[f"S{STRATEGIES.index(s)}"] = d
    backend._vectors = SteeringVectors(vec.path, dirs, vec.meta, vec.settings)
    backend._vectors_looked = True

    cases = load_cases(args.data, args.n, args.seed)
    target = {c.case_id: c.strategy for c in cases}

    class StrategySteer:
        """``steer`` plus the case's target strategy direction (looked up by case id)."""

        name = "stratsteer"

        def apply(self, state: AffectState, key: str, plan: InjectionPlan) -> None:
            v = state.vad
            plan.steering = {"V": round(v.v, 4), "A": round(v.a, 4), "D": round(v.d, 4)}
            if key in target:  # (a check_methods probe builds a prompt with no case)
                plan.steering[f"S{STRATEGIES.index(target[key])}"] = args.coef

    register_injection(StrategySteer())  # type: ignore[arg-type]
    cfg = BenchmarkConfig(data=args.data, n=args.n, seed=args.seed,
                          methods=["steer", "stratsteer"],
                          cache=args.cache / f"gen_{args.coef}.jsonl")
    report, _, gens = run_benchmark(cfg, backend, cases=cases)
    out: dict[str, Any] = {}
    for m, sc in report["methods"].items():
        out[m] = {
            "tone_own_partial": {ax: sc["tone"][ax]["partial_r"] for ax in "VAD"},
            "adherence": sc["adherence"]["overall"],
            "adherence_whole": sc["adherence"]["whole_reply"],
            "question": sc["adherence"]["question"],
            "per_strategy": {k: v["adherence"] for k, v in sc["adherence"]["per_strategy"].items()},
            "fluency": sc["fluency"],
            "relevance": sc["relevance"],
        }
    # what the judge does not see: replies that wander into invented specifics
    strategy_of = {c.case_id: c.strategy for c in cases}
    for m in ("steer", "stratsteer"):
        mine = [g for g in gens if g.method == m]
        per: dict[str, list[int]] = {}
        for g in mine:
            row = per.setdefault(strategy_of[g.case_id], [0, 0, 0])
            row[0] += 1
            row[1] += bool(re.search(r"\d", g.reply))
            row[2] += len(g.reply.split()) > 50
        out[m]["digits"] = round(sum(v[1] for v in per.values()) / len(mine), 4)
        out[m]["over_50_words"] = round(sum(v[2] for v in per.values()) / len(mine), 4)
        out[m]["per_strategy_n_digits_long"] = per
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Does a steering file move the valence of replies? A quick greedy probe beside the benchmark.

    python scripts/steering_probe.py affagent/_weights/steering/SmolLM2-135M-Instruct.Q4_1.npz@0.3 \
        other.npz@0.3 [--model path/to.gguf]

For each ``FILE@SCALE``: six support-seeker messages, greedy replies (40 tokens) steered with
V = -0.6 and V = +0.6 (A = D = 0), each reply's valence read by the default estimator. Prints
the mean valence per side, their difference, and the first two replies per side so fluency
can be read too. Used to choose between direction sources and scales before the full
``affagent eval injection`` run (evals/RESULTS.md); not a substitute for it (six messages,
one seed, the estimator as judge).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MESSAGES = [
    "My boss shouted at me in front of everyone.",
    "I can't sleep since my breakup.",
    "I got the job offer but I'm scared to move.",
    "My dog died last week.",
    "I feel like nobody at school likes me.",
    "I have exams next week and I'm stressed.",
]
SYSTEM = "You are a supportive listener. Reply in two sentences."


def main() -> None:
    from affagent.backends._embedded import EmbeddedBackend
    from affagent.perception import load_estimator
    from affagent.types import ChatMessage, GenerationParams

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vectors", nargs="+", help="FILE@SCALE (steering .npz and its scale)")
    ap.add_argument("--model", help="GGUF file (default: the embedded default)")
    args = ap.parse_args()
    est = load_estimator("default")
    for spec in args.vectors:
        path, _, scale = spec.partition("@")
        be = EmbeddedBackend(args.model, prompt_cache=False, steering=path,
                             steering_scale=float(scale or 1.0))
        sides: dict[float, tuple[float, list[str]]] = {}
        for v in (-0.6, 0.6):
            texts = []
            for m in MESSAGES:
                msgs = [ChatMessage(role="system", content=SYSTEM),
                        ChatMessage(role="user", content=m)]
                params = GenerationParams(max_tokens=40, temperature=0.0, seed=1,
                                          steering={"V": v, "A": 0.0, "D": 0.0})
                texts.append(asyncio.run(be.generate(msgs, params)))
            vals = [e.V for e in est.estimate(texts)]
            sides[v] = (statistics.mean(vals), texts)
        lo, hi = sides[-0.6][0], sides[0.6][0]
        print(f"{spec}: reply V at -0.6 {lo:+.3f}, at +0.6 {hi:+.3f}, difference {hi - lo:+.3f}")
        for v, (_, texts) in sides.items():
            for t in texts[:2]:
                print(f"    V={v:+.1f}  {t[:100]!r}")


if __name__ == "__main__":
    main()

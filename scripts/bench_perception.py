#!/usr/bin/env python
"""Benchmark perception on this CPU: load time, and per-utterance latency (p50/p95) of the VAD
estimator and the emotion classifier, single and batched, each as a ratio to one bare encoder
forward pass (tokenise + transformer + mean pool, no heads) measured in the same run.

"single" times one utterance at a time with the encoder cache cleared first (a cold text);
"est+clf" is what the agent does per user turn: estimate, then classify the same text with
cause words (the classifier reuses the estimator's encoder pass). "batched" is the time of
one call on ``--batch`` utterances divided by their number. Both wall-clock and process-CPU
time are printed: on a shared, overloaded machine the CPU time (one intra-op thread) is the
better estimate of the latency on an idle core.

``--turns N`` (default 60; 0 to skip) times the per-turn affective budget the way the agent
spends it, on ESConv valid conversations: for each supporter turn, perceive the user's latest
message (estimate + classify with cause words) and choose a strategy for the dialogue so far
(``--selectors``, default ``learned,learned-minilm``); the supporter's reply is then
"reflected" (estimated) untimed, as the agent does after generating. Reported: p50 of
perceive + choose and of choose alone, and their ratio to one bare encoder pass.

    nice -n 10 .venv/bin/python scripts/bench_perception.py    # torch and onnx, ED texts if found
    .venv/bin/python scripts/bench_perception.py --runtime onnx --only-turns --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FALLBACK = [
    "I finally got the job I wanted and I can't stop smiling!",
    "My dog died last week and the house feels so empty without him.",
    "I'm so nervous about my exam tomorrow, I haven't slept at all.",
    "Thanks for listening to me, it really helps.",
    "My roommate keeps eating my food and never says sorry. It drives me crazy.",
    "I don't know what to do anymore, everything feels pointless.",
    "We are going to the beach this weekend with the kids.",
    "My boss yelled at me in front of everyone today and I felt so small.",
]


def texts_for_bench(n: int) -> list[str]:
    """First-turn EmpatheticDialogues texts (typical support-seeking messages) if the shared
    data is found, else a built-in set."""
    root = Path(os.environ.get("AFFAGENT_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    p = root / "empatheticdialogues" / "ed_dev_first_turn.jsonl"
    if p.is_file():
        rows = [json.loads(line)["text"] for line in p.read_text().splitlines()]
        return list(dict.fromkeys(rows))[:n]
    # unique texts: the encoder cache must not serve repeats
    return [f"{FALLBACK[i % len(FALLBACK)]} ({i // len(FALLBACK)})" if i >= len(FALLBACK)
            else FALLBACK[i] for i in range(n)]


def timed(fn: Callable[[], object], reps: int, before: Callable[[], None] | None = None
          ) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU milliseconds per call. With one intra-op thread the CPU time
    is what the call costs on an idle core; wall time also counts waiting for a busy CPU."""
    wall, cpu = [], []
    for _ in range(reps):
        if before:
            before()
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def bench(runtime: str, texts: list[str], n: int, bsz: int, only_bare: bool = False) -> dict:
    from affagent.perception.classifiers import EncoderEmotionClassifier
    from affagent.perception.estimators import EncoderVADEstimator

    t0 = time.perf_counter()
    est = EncoderVADEstimator(runtime=runtime)
    est.estimate(["warm up"])
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    clf = EncoderEmotionClassifier("goemotions", runtime=runtime)
    clf.classify(["warm up"])
    clf_load_s = time.perf_counter() - t1
    enc = est.model.encoder
    for t in texts[:5]:  # warm-up
        enc._forward([t])
    res: dict[str, dict[str, float]] = {}

    def record(name: str, ms: tuple[list[float], list[float]], per: int = 1) -> None:
        wall = [m / per for m in ms[0]]
        cpu = [m / per for m in ms[1]]
        res[name] = {"p50_ms": round(pct(wall, 0.5), 2), "p95_ms": round(pct(wall, 0.95), 2),
                     "cpu_p50_ms": round(pct(cpu, 0.5), 2)}

    cur = {"i": 0, "t": texts[0]}

    def pick() -> None:
        cur["i"] += 1
        cur["t"] = texts[cur["i"] % n]
        enc.clear_cache()

    record("bare_encoder_forward", timed(lambda: enc._forward([cur["t"]]), n, pick))
    if only_bare:
        res["bare_encoder_forward"].update(ratio_to_bare_p50=1.0, cpu_ratio_to_bare=1.0)
        return {"runtime": runtime, "threads": enc.threads, "load_s": round(load_s, 2),
                "classifier_extra_load_s": round(clf_load_s, 2), "latency": res}
    record("estimator_single", timed(lambda: est.estimate([cur["t"]]), n, pick))
    record("classifier_single", timed(lambda: clf.classify([cur["t"]]), n, pick))

    def both() -> None:
        est.estimate([cur["t"]])
        clf.classify([cur["t"]])

    record("estimator+classifier_single", timed(both, n, pick))
    batch = texts[:bsz]
    reps = max(5, n // bsz)
    enc._forward(batch)  # warm-up at this shape
    record("bare_encoder_batched", timed(lambda: enc._forward(batch), reps, enc.clear_cache), bsz)
    record("estimator_batched", timed(lambda: est.estimate(batch), reps, enc.clear_cache), bsz)
    record("classifier_batched", timed(lambda: clf.classify(batch), reps, enc.clear_cache), bsz)
    bare = res["bare_encoder_forward"]["p50_ms"]
    bare_b = res["bare_encoder_batched"]["p50_ms"]
    cbare = res["bare_encoder_forward"]["cpu_p50_ms"]
    cbare_b = res["bare_encoder_batched"]["cpu_p50_ms"]
    for k, v in res.items():
        v["ratio_to_bare_p50"] = round(v["p50_ms"] / (bare_b if "batched" in k else bare), 2)
        v["cpu_ratio_to_bare"] = round(v["cpu_p50_ms"] / (cbare_b if "batched" in k else cbare), 2)
    enc.clear_cache()
    vad = [e.vad.as_tuple() for e in est.estimate(texts[:n])]
    probs = clf.probabilities(texts[:n]).tolist()
    return {"runtime": runtime, "threads": enc.threads, "load_s": round(load_s, 2),
            "classifier_extra_load_s": round(clf_load_s, 2), "latency": res,
            "_outputs": (vad, probs)}


def bench_turns(n_turns: int, selectors: list[str], bare_ms: tuple[float, float]) -> dict:
    """perceive + choose per supporter turn of ESConv valid conversations (see the module
    docstring); each selector runs in its own pass over the same turns."""
    from affagent.perception.classifiers import EncoderEmotionClassifier
    from affagent.perception.estimators import EncoderVADEstimator
    from affagent.strategy import load_selector
    from affagent.strategy.data import load_esconv
    from affagent.types import DialogueTurn, StrategyContext

    root = Path(os.environ.get("AFFAGENT_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = root / "esconv" / "valid.jsonl"
    if not path.is_file():
        print(f"turns: skipped ({path} not found)", file=sys.stderr)
        return {}
    dialogues = load_esconv(path)
    est = EncoderVADEstimator()
    clf = EncoderEmotionClassifier("goemotions")
    out: dict = {}
    for name in selectors:
        sel = load_selector(name)
        warm = getattr(sel, "warm_up", None)
        if callable(warm):
            warm()
        est.model.encoder.clear_cache()
        both, choose = ([], []), ([], [])
        done = 0
        for d in dialogues:
            seen: list[DialogueTurn] = []
            for i, turn in enumerate(d):
                if turn.speaker == "usr":
                    if i + 1 < len(d) and d[i + 1].speaker == "usr":
                        # a message the user sent before the next one: the agent perceived
                        # it (and replied) at its own turn; untimed here
                        est.estimate([turn.text])
                        clf.classify([turn.text])
                    seen.append(turn)
                    continue
                if seen and seen[-1].speaker == "usr" and done < n_turns:
                    t, c = time.perf_counter(), time.process_time()
                    est.estimate([seen[-1].text])
                    clf.classify([seen[-1].text])
                    t2, c2 = time.perf_counter(), time.process_time()
                    sel.select(StrategyContext(dialogue=list(seen)))
                    t3, c3 = time.perf_counter(), time.process_time()
                    both[0].append((t3 - t) * 1000)
                    both[1].append((c3 - c) * 1000)
                    choose[0].append((t3 - t2) * 1000)
                    choose[1].append((c3 - c2) * 1000)
                    done += 1
                est.estimate([turn.text])  # reflect: the agent reads its own reply
                seen.append(turn)
            if done >= n_turns:
                break
        # the first turn of each conversation perceives nothing new for a user block; the
        # first timed turn also pays the selector's lazy imports: drop it
        row = {"turns": len(both[0]) - 1,
               "perceive_choose_p50_ms": round(pct(both[0][1:], 0.5), 2),
               "perceive_choose_cpu_p50_ms": round(pct(both[1][1:], 0.5), 2),
               "choose_p50_ms": round(pct(choose[0][1:], 0.5), 2),
               "choose_cpu_p50_ms": round(pct(choose[1][1:], 0.5), 2)}
        row["ratio_to_bare_p50"] = round(row["perceive_choose_p50_ms"] / bare_ms[0], 2)
        row["cpu_ratio_to_bare"] = round(row["perceive_choose_cpu_p50_ms"] / bare_ms[1], 2)
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="utterances for single-text timings")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runtime", choices=["torch", "onnx", "both"], default="both")
    ap.add_argument("--threads", type=int, help="intra-op threads (default 1)")
    ap.add_argument("--turns", type=int, default=60,
                    help="supporter turns for the perceive + choose figure (0: skip)")
    ap.add_argument("--selectors", default="learned,learned-minilm")
    ap.add_argument("--only-turns", action="store_true",
                    help="skip the batched figures (the bare pass is still timed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        os.environ["AFFAGENT_PERCEPTION_THREADS"] = str(args.threads)
    texts = texts_for_bench(max(args.n, args.batch))
    runtimes = ["torch", "onnx"] if args.runtime == "both" else [args.runtime]
    if args.only_turns:
        runtimes = ["onnx" if args.runtime == "both" else args.runtime]
    runs = [bench(r, texts, args.n, args.batch, args.only_turns) for r in runtimes]
    turns: dict = {}
    if args.turns:
        os.environ["AFFAGENT_PERCEPTION_RUNTIME"] = runtimes[-1]
        bare = runs[-1]["latency"]["bare_encoder_forward"]
        turns = bench_turns(args.turns, [s.strip() for s in args.selectors.split(",")],
                            (bare["p50_ms"], bare["cpu_p50_ms"]))
    words = statistics.mean(len(t.split()) for t in texts[: args.n])
    out: dict = {"n": args.n, "batch": args.batch, "mean_words": round(words, 1),
                 "runs": [{k: v for k, v in r.items() if k != "_outputs"} for r in runs],
                 "perceive_choose": turns}
    if len(runs) == 2 and "_outputs" in runs[1]:
        import numpy as np

        (v0, p0), (v1, p1) = runs[0]["_outputs"], runs[1]["_outputs"]
        out["max_abs_diff"] = {"vad": float(np.abs(np.array(v0) - np.array(v1)).max()),
                               "goemotions_probs": float(np.abs(np.array(p0) - np.array(p1)).max())}
    if not args.json:
        for r in out["runs"]:
            print(f"runtime {r['runtime']} ({r['threads']} thread(s)): load {r['load_s']:.1f} s "
                  f"(estimator, incl. imports/export), +{r['classifier_extra_load_s']:.2f} s "
                  f"classifier; {args.n} utterances, mean {words:.0f} words")
            print(f"  {'':30s}{'p50 ms':>9s}{'p95 ms':>9s}{'× bare':>8s}"
                  f"{'cpu p50':>9s}{'× bare':>8s}")
            for k, v in r["latency"].items():
                print(f"  {k:30s}{v['p50_ms']:9.2f}{v['p95_ms']:9.2f}"
                      f"{v['ratio_to_bare_p50']:8.2f}{v['cpu_p50_ms']:9.2f}"
                      f"{v['cpu_ratio_to_bare']:8.2f}")
        if "max_abs_diff" in out:
            print(f"torch vs onnx, max |difference|: {out['max_abs_diff']}")
        for name, row in turns.items():
            print(f"perceive + choose ({name}, {row['turns']} supporter turns, "
                  f"{runtimes[-1]}): p50 {row['perceive_choose_p50_ms']:.1f} ms wall / "
                  f"{row['perceive_choose_cpu_p50_ms']:.1f} ms CPU = "
                  f"{row['ratio_to_bare_p50']:.2f}x / {row['cpu_ratio_to_bare']:.2f}x one bare "
                  f"pass; choose alone {row['choose_p50_ms']:.1f} ms wall / "
                  f"{row['choose_cpu_p50_ms']:.1f} ms CPU")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Add per-strategy steering directions to a model's shipped steering file.

    nice -n 10 python scripts/strategy_directions.py --train ../shared/data/esconv/train.jsonl

For each ESConv strategy: the mean residual stream (per block, over the assistant's tokens, as
``scripts/steering_vectors.py`` reads it) of up to ``--per-strategy`` ESConv *train* supporter
replies with that strategy, each after the seeker turn it answered, minus the mean of the eight
strategy means; rescaled per block to the file's V direction norm, so coefficient 1 pushes as
hard as a full-scale axis. They are written beside V, A and D as ``strategy:<name>``
(float16), and the sidecar's ``strategies`` lists the ones the backend applies (``--apply``).

Why not all eight: on 120 ESConv valid cases (evals/RESULTS.md, "Per-strategy steering") the
directions for Information, Providing Suggestions and Self-disclosure made replies invent
specifics (digits in 5 of 14, 4 of 12 and 5 of 11 replies, against 1 in 120 unsteered by
strategy), while the other five raised strategy adherence without that.
``scripts/strategy_steering_probe.py`` is the experiment behind the choice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from steering_vectors import Activations, cached  # noqa: E402

from affagent.strategy.metrics import STRATEGY_NAMES  # noqa: E402

#: The strategies whose direction the backend applies (see the module doc).
APPLIED = ("Question", "Restatement or Paraphrasing", "Reflection of feelings",
           "Affirmation and Reassurance", "Others")


def log(msg: str) -> None:
    print(f"[strategy_directions {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def supporter_turns(path: Path, per: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """(seeker turn, supporter reply) pairs per strategy, a seeded sample of ``per`` each."""
    by: dict[str, list[tuple[str, str]]] = {s: [] for s in STRATEGY_NAMES}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        dialog = json.loads(line)["dialog"]
        for i, t in enumerate(dialog):
            s = t.get("strategy")
            if t["speaker"] != "sys" or s not in by or i == 0:
                continue
            prev = dialog[i - 1]
            if prev["speaker"] == "usr" and len(t["text"].split()) >= 3:
                by[s].append((prev["text"], t["text"]))
    rng = random.Random(seed)
    return {s: rng.sample(rows, min(per, len(rows))) for s, rows in by.items()}


def strategy_directions(acts: Activations, rows: dict[str, list[tuple[str, str]]],
                        cache: Path, ref_norm: np.ndarray) -> dict[str, np.ndarray]:
    """Per strategy: its mean activation minus the mean of the strategy means, at
    ``ref_norm`` (blocks × 1) per block."""
    t0 = time.time()
    means = {}
    for s, pairs in rows.items():
        xs = []
        for user, reply in pairs:
            key = hashlib.sha256(f"{user}\x00{reply}".encode()).hexdigest()[:16]
            xs.append(cached(cache, f"es_{key}", lambda u=user, r=reply: acts(u, r)))
        means[s] = np.stack(xs).mean(axis=0)
        log(f"{s}: {len(xs)} replies ({time.time() - t0:.0f} s)")
    grand = np.mean(np.stack(list(means.values())), axis=0)
    out = {}
    for s, m in means.items():
        d = m - grand
        out[s] = (d * ref_norm / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
                  ).astype(np.float32)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, required=True, help="ESConv train JSONL")
    ap.add_argument("--model", type=Path, help="GGUF file (default: the embedded default)")
    ap.add_argument("--vectors", type=Path,
                    help="steering file to extend (default: the shipped one for the model)")
    ap.add_argument("--per-strategy", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--apply", default=",".join(APPLIED),
                    help="comma-separated strategies the backend applies (sidecar)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path,
                    help="activations cache (default: <affagent cache>/steering-activations)")
    args = ap.parse_args()

    if args.model is None:
        from affagent.backends import default_gguf_path

        args.model = Path(default_gguf_path())
    gguf = args.model.resolve()
    path = args.vectors or ROOT / "affagent/_weights/steering" / f"{gguf.stem}.npz"
    if not path.is_file():
        ap.error(f"no steering file at {path}: run scripts/steering_vectors.py first")
    applied = [s.strip() for s in args.apply.split(",") if s.strip()]
    bad = sorted(set(applied) - set(STRATEGY_NAMES))
    if bad:
        ap.error(f"unknown strategies {bad}; known: {', '.join(STRATEGY_NAMES)}")
    if args.cache_dir is None:
        from affagent.resources import cache_root

        args.cache_dir = cache_root() / "steering-activations"
    model_key = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}".encode()).hexdigest()[:12]

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("V", "A", "D")}
        meta = json.loads(str(z["meta"]))
    acts = Activations(gguf, args.threads)
    rows = supporter_turns(args.train, args.per_strategy, args.seed)
    ref = np.linalg.norm(arrays["V"].astype(np.float32), axis=1, keepdims=True)
    dirs = strategy_directions(acts, rows, args.cache_dir / model_key, ref)
    for s, d in dirs.items():
        arrays[f"strategy:{s}"] = d.astype(np.float16)
    meta["strategies"] = {
        "source": "ESConv train supporter replies after the seeker turn they answered",
        "per_strategy": {s: len(r) for s, r in rows.items()},
        "seed": args.seed,
        "method": "mean assistant-token residual per strategy minus the mean of the strategy "
                  "means, rescaled per block to the V direction's norm",
    }
    np.savez_compressed(path, **arrays, meta=np.array(json.dumps(meta)))
    side = path.with_suffix(".json")
    settings = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    settings["strategies"] = applied
    side.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {path} ({path.stat().st_size // 1024} KB) and {side.name}: applies {applied}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Train the adherence judge of ``affagent eval injection``: text → ESConv strategy.

    nice -n 10 python scripts/train_strategy_judge.py \
        --train ../shared/data/esconv/train.jsonl --valid ../shared/data/esconv/valid.jsonl

One example per supporter turn: what the supporter wrote, with the seeker's turn(s) just
before it as context (empty for an opening turn). Texts are encoded once with the frozen
all-MiniLM-L6-v2 the agent uses (:func:`affagent.strategy.encoder.minilm`, cached in
``--cache-dir``); candidate multinomial logistic regressions (class-balanced, one per ``--C``
and feature set) are fitted on train only, and the one with the best macro-F1 on valid is
written to ``--out`` with its valid accuracy and macro-F1 (the judge's ceiling) in ``meta``.
Prints one JSON summary on the last line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from affagent.evals.injection.judge import N_SURFACE, design_matrix  # noqa: E402
from affagent.strategy.data import load_esconv  # noqa: E402
from affagent.strategy.metrics import STRATEGY_NAMES, evaluate  # noqa: E402


def log(msg: str) -> None:
    print(f"[train_strategy_judge {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def examples(path: Path) -> tuple[list[str], list[str], list[int]]:
    """(supporter texts, contexts, labels) for every supporter turn of a file."""
    replies, contexts, labels = [], [], []
    for dialogue in load_esconv(path):
        block: list[str] = []
        last_usr = ""
        for turn in dialogue:
            if turn.speaker == "usr":
                block.append(turn.text.strip())
                continue
            if block:
                last_usr, block = " ".join(block), []
            replies.append(turn.text.strip())
            contexts.append(last_usr)
            labels.append(STRATEGY_NAMES.index(turn.strategy or "Others"))
    return replies, contexts, labels


def embed(texts: list[str], cache_dir: Path) -> dict[str, np.ndarray]:
    from affagent.strategy.encoder import minilm

    ordered = sorted(set(t if t else "." for t in texts))
    key = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:16]
    cache = cache_dir / f"judge_minilm_{key}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=True) as z:
            return dict(zip(z["texts"].tolist(), z["emb"], strict=True))
    log(f"encoding {len(ordered)} texts (cached to {cache})")
    enc = minilm()
    by_len = sorted(ordered, key=len)  # batches of similar length pad less
    vecs: dict[str, np.ndarray] = {}
    for i in range(0, len(by_len), 256):
        batch = by_len[i:i + 256]
        vecs.update(zip(batch, enc.encode(batch), strict=True))
        if i % 2560 == 0:
            log(f"  {min(i + 256, len(by_len))}/{len(by_len)}")
    emb = np.stack([vecs[t] for t in ordered]).astype(np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(ordered, dtype=object), emb=emb)
    return dict(zip(ordered, emb, strict=True))


def features(replies: list[str], contexts: list[str], emb: dict[str, np.ndarray],
             use_context: bool) -> np.ndarray:
    r = np.stack([emb[t if t else "."] for t in replies])
    c = np.stack([emb[t if t else "."] for t in contexts])
    if not use_context:
        c = np.zeros_like(c)
    return design_matrix(r, c, replies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--valid", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "affagent/_weights/strategy_judge.npz")
    ap.add_argument("--cache-dir", type=Path, default=Path("/work/cache/injection/judge"))
    ap.add_argument("--C", default="0.001,0.003,0.01,0.03,0.1")
    args = ap.parse_args()

    tr = examples(args.train)
    va = examples(args.valid)
    emb = embed(tr[0] + tr[1] + va[0] + va[1], args.cache_dir)
    from sklearn.linear_model import LogisticRegression

    results = []
    best: tuple[float, dict[str, object], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None
    best = None
    for use_context in (True, False):
        xtr = features(tr[0], tr[1], emb, use_context)
        xva = features(va[0], va[1], emb, use_context)
        mean = xtr.mean(axis=0)
        scale = xtr.std(axis=0) + 1e-6
        if not use_context:
            # zeroed context columns: keep them inert
            mean[384:768] = 0.0
            scale[384:768] = 1.0
        ztr, zva = (xtr - mean) / scale, (xva - mean) / scale
        for c in (float(x) for x in args.C.split(",")):
            clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
            clf.fit(ztr, tr[2])
            pred = clf.predict(zva)
            s = evaluate([STRATEGY_NAMES[i] for i in va[2]], [STRATEGY_NAMES[i] for i in pred])
            row = {"context": use_context, "C": c, "accuracy": round(s.accuracy, 4),
                   "macro_f1": round(s.Q / 100, 4),
                   "per_class_f1": {k: round(v / 100, 3) for k, v in s.per_class_f1.items()}}
            results.append(row)
            log(f"context={use_context} C={c}: accuracy {s.accuracy:.3f} macro-F1 {s.Q:.1f}")
            if best is None or best[0] < s.Q:
                best = (s.Q, row, clf.coef_.T.astype(np.float32),
                        clf.intercept_.astype(np.float32), mean, scale)
    assert best is not None
    _, row, W, b, mean, scale = best
    meta = {
        "names": list(STRATEGY_NAMES),
        "encoder": "all-MiniLM-L6-v2",
        "features": f"reply emb 384 + context emb 384 + surface {N_SURFACE}",
        "train": str(args.train.name), "n_train": len(tr[2]), "n_valid": len(va[2]),
        "chosen": {"context": row["context"], "C": row["C"]},
        "valid": {"accuracy": row["accuracy"], "macro_f1": row["macro_f1"]},
        "valid_per_class_f1": row["per_class_f1"],
        "candidates": [{k: v for k, v in r.items() if k != "per_class_f1"} for r in results],
        "source": "ESConv (thu-coai/Emotional-Support-Conversation), CC BY-NC 4.0",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, W=W.astype(np.float16), b=b, mean=mean.astype(np.float32),
                        scale=scale.astype(np.float32), meta=np.array(json.dumps(meta)))
    log(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    print(json.dumps({"out": str(args.out), **meta["valid"], "chosen": meta["chosen"]}))


if __name__ == "__main__":
    main()

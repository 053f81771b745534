#!/usr/bin/env python
"""Train the EmpatheticDialogues (``empathetic``) head on the dialogue, on a grouped split of
ED dev, and write it into a perception weights folder.

    nice -n 10 python scripts/train_ed_head.py \
        --data ../shared/data/empatheticdialogues/ed_dev.jsonl

Only ED dev is available (no train split), so it is cut once, by conversation, with a fixed
seeded hash (:func:`affagent.perception.data.grouped_part`: fit 60 % / select 20 % / held out
20 %). The head is a multinomial logistic regression over the dialogue rows of
:mod:`affagent.perception.dialogue` (the shared encoder's vectors of the opening, the
speaker's and the listener's turns and the joined context); the encoder is not trained on ED.
``C`` is chosen on the select part after fitting on the fit part; the head is then refit on
fit + select and scored once on the held-out part, which nothing was chosen on. Other heads
and the encoder are copied unchanged, so the ``learned`` strategy head (which reads only the
encoder, VAD and GoEmotions) stays valid.

Utterance vectors are cached in ``--cache-dir``. Prints one JSON summary on the last line;
``affagent eval emotions --data ed_dev.jsonl --part heldout`` reproduces the held-out figure.
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

from affagent.perception.data import (  # noqa: E402
    ED_PARTS,
    ED_SPLIT_SEED,
    EMPATHETIC_LABELS,
    grouped_part,
    read_empathetic,
)
from affagent.perception.dialogue import dialogue_row, dialogue_texts  # noqa: E402
from affagent.perception.metrics import accuracy_at_k  # noqa: E402
from affagent.perception.model import Head, PerceptionModel, save_weights  # noqa: E402


def log(msg: str) -> None:
    print(f"[train_ed_head {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def vectors(model: PerceptionModel, texts: list[str], cache_dir: Path, tag: str
            ) -> dict[str, np.ndarray]:
    ordered = sorted(set(texts))
    key = hashlib.sha256(("\n".join(ordered) + tag).encode()).hexdigest()[:16]
    cache = cache_dir / f"ed_vectors_{key}.npz"
    if cache.exists():
        log(f"vectors from {cache}")
        with np.load(cache, allow_pickle=True) as z:
            return dict(zip(z["texts"].tolist(), z["emb"], strict=True))
    log(f"encoding {len(ordered)} texts (cached to {cache})")
    emb = model.encoder.pooled(ordered, batch_size=32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(ordered, dtype=object), emb=emb)
    return dict(zip(ordered, emb, strict=True))


def fit(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on standardised rows, folded back to raw rows: (W (32, F), b)."""
    from sklearn.linear_model import LogisticRegression

    mu, sd = x.mean(0), x.std(0) + 1e-6
    m = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit((x - mu) / sd, y)
    coef = np.zeros((len(EMPATHETIC_LABELS), x.shape[1]))
    icpt = np.full(len(EMPATHETIC_LABELS), -30.0)  # a label never seen: never predicted
    coef[m.classes_], icpt[m.classes_] = m.coef_, m.intercept_
    w = coef / sd
    return w.astype(np.float32), (icpt - w @ mu).astype(np.float32)


def scores(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    z = x @ w.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return {"acc_at_1": round(accuracy_at_k(p, y, 1), 4),
            "acc_at_5": round(accuracy_at_k(p, y, 5), 4), "n": len(y)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="ED dev JSONL (context, emotion)")
    ap.add_argument("--weights", type=Path, default=ROOT / "affagent" / "_weights" / "perception",
                    help="perception weights folder to read")
    ap.add_argument("--out", type=Path, help="folder to write (default: --weights, in place)")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/affagent-perception"))
    ap.add_argument("--c", default="0.0003,0.001,0.003,0.01,0.03,0.1", help="C values to try")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    out_dir = args.out or args.weights

    model = PerceptionModel(args.weights)
    items = read_empathetic(args.data)
    contexts = [[u for u in (it.context or (it.text,)) if u.strip()] for it in items]
    texts = [t for c in contexts for t in dialogue_texts(c)]
    tag = json.dumps(model.meta.get("info", {}).get("config", {}), sort_keys=True)
    table = vectors(model, texts, args.cache_dir, tag + str(args.weights.resolve()))
    hidden = model.encoder.hidden_size
    x = np.stack([dialogue_row(c, table.__getitem__, hidden) for c in contexts])
    y = np.array([EMPATHETIC_LABELS.index(it.labels[0]) for it in items])
    part = np.array([grouped_part(it.group) for it in items])
    masks = {p: part == p for p, _ in ED_PARTS}
    log(f"{x.shape[0]} rows, {x.shape[1]} features; parts " +
        ", ".join(f"{p} {int(m.sum())}" for p, m in masks.items()))

    tried = []
    for c in (float(v) for v in args.c.split(",")):
        w, b = fit(x[masks["fit"]], y[masks["fit"]], c, args.seed)
        s = scores(w, b, x[masks["select"]], y[masks["select"]])
        log(f"C={c}: select acc@1 {s['acc_at_1']} acc@5 {s['acc_at_5']}")
        tried.append((s["acc_at_1"], s["acc_at_5"], c, s))
    _, _, c, select = max(tried, key=lambda t: (t[0], t[1]))
    both = masks["fit"] | masks["select"]
    w, b = fit(x[both], y[both], c, args.seed)
    heldout = scores(w, b, x[masks["heldout"]], y[masks["heldout"]])
    log(f"C={c} refit on fit+select: held-out acc@1 {heldout['acc_at_1']} "
        f"acc@5 {heldout['acc_at_5']}")

    heads = dict(model.heads)
    heads["empathetic"] = Head("empathetic", "multiclass", EMPATHETIC_LABELS, w, b,
                               input="dialogue")
    info = dict(model.meta.get("info", {}))
    info["empathetic"] = {
        "script": "scripts/train_ed_head.py", "input": "dialogue", "C": c,
        "split": {"seed": ED_SPLIT_SEED, "parts": dict(ED_PARTS), "by": "conversation"},
        "select": select, "heldout": heldout, "tried": {str(t[2]): t[3] for t in tried},
        "trained_on": "ED dev, fit + select parts",
    }
    from safetensors.numpy import load_file

    tensors = load_file(str(args.weights / "model.safetensors"))
    encoder = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
    save_weights(out_dir, heads, encoder_params=encoder, lora=model.meta.get("lora"),
                 info=info, max_length=int(model.meta.get("max_length", 256)))
    log(f"wrote {out_dir}")
    print(json.dumps({"C": c, "select": select, "heldout": heldout}))


if __name__ == "__main__":
    main()

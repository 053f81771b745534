#!/usr/bin/env python
"""Train the *frozen-encoder* perception heads on CPU: the baseline (and a fallback model).

all-MiniLM-L6-v2 is left as shipped; on its mean-pooled embeddings we fit
- a ridge regression for VAD on EmoBank train (alpha selected on EmoBank dev),
- one logistic regression per GoEmotions label on GoEmotions train (C selected on dev
  macro-F1, per-label thresholds tuned on dev),
- a multinomial logistic regression for the 32 EmpatheticDialogues emotions, by grouped 5-fold
  cross-validation on ED dev (only the dev texts are available; folds keep each dialogue's rows
  together), then refit on all of it.
Feature standardisation is folded into the linear heads. ``--limit-*`` subsample for speed.

    nice -n 10 .venv/bin/python scripts/train_perception_frozen.py \
        --data ../shared/data --out affagent/_weights/perception
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.perception.data import (
    EMPATHETIC_LABELS,
    GOEMOTIONS_LABELS,
    read_emobank,
    read_empathetic,
    read_goemotions,
)
from affagent.perception.encoder import Encoder
from affagent.perception.metrics import (
    accuracy_at_k,
    decide,
    macro_f1,
    pearson,
    tune_thresholds,
)
from affagent.perception.model import Head, save_weights


def sample(xs: list, n: int | None, seed: int = 0) -> list:
    if n is None or n >= len(xs):
        return xs
    return random.Random(seed).sample(xs, n)


def fold(coef: np.ndarray, intercept: np.ndarray, mu: np.ndarray, sd: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """Linear model on (x-mu)/sd → the same model on raw x."""
    w = coef / sd
    return w, intercept - w @ mu


def fit_vad(Xtr, Ytr, Xdv, Ydv):
    from sklearn.linear_model import Ridge

    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    best = None
    for alpha in (1, 10, 30, 100, 300, 1000):
        m = Ridge(alpha=alpha).fit((Xtr - mu) / sd, Ytr)
        p = m.predict((Xdv - mu) / sd)
        rs = [pearson(p[:, i], Ydv[:, i]) for i in range(3)]
        print(f"  ridge alpha={alpha}: dev r V={rs[0]:.3f} A={rs[1]:.3f} D={rs[2]:.3f}",
              file=sys.stderr)
        if best is None or sum(rs) > best[0]:
            best = (sum(rs), alpha, rs, m)
    _, alpha, rs, m = best
    w, b = fold(m.coef_, m.intercept_, mu, sd)
    return Head("vad", "regression", ("V", "A", "D"), w, b), {"alpha": alpha, "dev_pearson": rs}


def fit_goemotions(Xtr, Ytr, Xdv, Ydv):
    from sklearn.linear_model import LogisticRegression

    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    best = None
    for c in (0.05, 0.3, 1.0):
        W, B = [], []
        for k in range(Ytr.shape[1]):
            m = LogisticRegression(C=c, max_iter=300).fit((Xtr - mu) / sd, Ytr[:, k])
            W.append(m.coef_[0])
            B.append(m.intercept_[0])
        w, b = fold(np.array(W), np.array(B), mu, sd)
        probs = 1 / (1 + np.exp(-(Xdv @ w.T + b)))
        thr = tune_thresholds(probs, Ydv)
        f1 = macro_f1(decide(probs, thr), Ydv)
        print(f"  logistic C={c}: dev macro-F1 (tuned thresholds) {f1:.3f}", file=sys.stderr)
        if best is None or f1 > best[0]:
            best = (f1, c, w, b, thr)
    f1, c, w, b, thr = best
    head = Head("goemotions", "multilabel", GOEMOTIONS_LABELS, w, b, thr)
    return head, {"C": c, "dev_macro_f1": f1}


def fit_empathetic_cv(X, y, groups, folds: int = 5):
    """Grouped k-fold CV on ED dev for C; returns the head refit on all rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    best = None
    for c in (0.01, 0.03, 0.1):
        probs = np.zeros((len(y), len(EMPATHETIC_LABELS)))
        for tr, te in GroupKFold(n_splits=folds).split(X, y, groups):
            mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
            m = LogisticRegression(C=c, max_iter=500).fit((X[tr] - mu) / sd, y[tr])
            probs[np.ix_(te, m.classes_)] = m.predict_proba((X[te] - mu) / sd)
        a1, a5 = accuracy_at_k(probs, y, 1), accuracy_at_k(probs, y, 5)
        print(f"  ED logistic C={c}: {folds}-fold CV acc@1={a1:.3f} acc@5={a5:.3f}",
              file=sys.stderr)
        if best is None or a1 > best[0]:
            best = (a1, a5, c)
    a1, a5, c = best
    mu, sd = X.mean(0), X.std(0) + 1e-6
    m = LogisticRegression(C=c, max_iter=500).fit((X - mu) / sd, y)
    coef = np.zeros((len(EMPATHETIC_LABELS), X.shape[1]))
    icpt = np.full(len(EMPATHETIC_LABELS), -30.0)  # a label absent from training stays unlikely
    coef[m.classes_], icpt[m.classes_] = m.coef_, m.intercept_
    w, b = fold(coef, icpt, mu, sd)
    head = Head("empathetic", "multiclass", EMPATHETIC_LABELS, w, b)
    return head, {"C": c, "cv_folds": folds, "cv_acc_at_1": a1, "cv_acc_at_5": a5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("affagent/_weights/perception"))
    ap.add_argument("--limit-emobank", type=int)
    ap.add_argument("--limit-goemotions", type=int)
    ap.add_argument("--limit-dev", type=int)
    ap.add_argument("--limit-ed", type=int)
    args = ap.parse_args()
    t0 = time.time()
    enc = Encoder()

    def emb(texts: list[str], what: str) -> np.ndarray:
        t = time.time()
        x = enc.pooled(texts, batch_size=64)
        print(f"  embedded {len(texts)} {what} in {time.time() - t:.0f}s", file=sys.stderr)
        return x

    eb = read_emobank(args.data / "emobank" / "emobank.csv")
    eb_tr = sample([r for r in eb if r.split == "train"], args.limit_emobank)
    eb_dv = sample([r for r in eb if r.split == "dev"], args.limit_dev)
    vad, vinfo = fit_vad(emb([r.text for r in eb_tr], "EmoBank train"),
                         np.array([r.vad.as_tuple() for r in eb_tr]),
                         emb([r.text for r in eb_dv], "EmoBank dev"),
                         np.array([r.vad.as_tuple() for r in eb_dv]))

    def multi_hot(items):
        y = np.zeros((len(items), len(GOEMOTIONS_LABELS)), dtype=bool)
        for i, it in enumerate(items):
            for lab in it.labels:
                y[i, GOEMOTIONS_LABELS.index(lab)] = True
        return y

    ge_tr = sample(read_goemotions(args.data / "goemotions" / "train.tsv"), args.limit_goemotions)
    ge_dv = sample(read_goemotions(args.data / "goemotions" / "dev.tsv"), args.limit_dev)
    ge, ginfo = fit_goemotions(emb([r.text for r in ge_tr], "GoEmotions train"), multi_hot(ge_tr),
                               emb([r.text for r in ge_dv], "GoEmotions dev"), multi_hot(ge_dv))

    ed = read_empathetic(args.data / "empatheticdialogues" / "ed_dev.jsonl")
    groups_all = sorted({r.group for r in ed})
    if args.limit_ed:
        keep = set(sample(groups_all, args.limit_ed))
        ed = [r for r in ed if r.group in keep]
    gid = {g: i for i, g in enumerate(sorted({r.group for r in ed}))}
    edh, einfo = fit_empathetic_cv(
        emb([r.text for r in ed], "ED dev"),
        np.array([EMPATHETIC_LABELS.index(r.labels[0]) for r in ed]),
        np.array([gid[r.group] for r in ed]))

    info = {"kind": "frozen encoder + linear heads", "script": "scripts/train_perception_frozen.py",
            "n_train": {"emobank": len(eb_tr), "goemotions": len(ge_tr), "ed_dev_cv": len(ed)},
            "vad": vinfo, "goemotions": ginfo, "empathetic": einfo}
    save_weights(args.out, {"vad": vad, "goemotions": ge, "empathetic": edh}, info=info)
    print(json.dumps(info))
    print(f"done in {time.time() - t0:.0f}s → {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""How optimistic is GoEmotions dev macro-F1 with per-label thresholds tuned on dev itself?

Scores the shipped classifier on a GoEmotions file three ways: with the shipped thresholds
(what ``affagent eval emotions`` reports), with one fixed 0.5 threshold, and by split-half
cross-validation (thresholds tuned on one half of the file, scored on the other; both ways,
``--repeats`` random splits), the honest estimate for unseen data.

    nice -n 10 .venv/bin/python scripts/perception_threshold_cv.py \
        --data ../shared/data/goemotions/dev.tsv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.perception import load_classifier
from affagent.perception.data import GOEMOTIONS_LABELS, read_goemotions
from affagent.perception.metrics import decide, macro_f1, tune_thresholds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    items = read_goemotions(args.data)
    clf = load_classifier("goemotions")
    texts = [it.text for it in items]
    probs = np.concatenate([clf.probabilities(texts[i : i + 64])  # type: ignore[attr-defined]
                            for i in range(0, len(texts), 64)])
    gold = np.zeros_like(probs, dtype=bool)
    for i, it in enumerate(items):
        for lab in it.labels:
            gold[i, GOEMOTIONS_LABELS.index(lab)] = True
    shipped = macro_f1(clf.decide(probs), gold)  # type: ignore[attr-defined]
    fixed = macro_f1(decide(probs, np.full(probs.shape[1], 0.5)), gold)
    cv = []
    rng = np.random.default_rng(0)
    for _ in range(args.repeats):
        idx = rng.permutation(len(items))
        a, b = idx[: len(idx) // 2], idx[len(idx) // 2 :]
        for tune_on, test_on in ((a, b), (b, a)):
            thr = tune_thresholds(probs[tune_on], gold[tune_on])
            cv.append(macro_f1(decide(probs[test_on], thr), gold[test_on]))
    print(json.dumps({"n": len(items), "macro_f1_shipped_thresholds": round(shipped, 4),
                      "macro_f1_threshold_0.5": round(fixed, 4),
                      "macro_f1_split_half_cv": round(float(np.mean(cv)), 4),
                      "cv_sd": round(float(np.std(cv)), 4)}))


if __name__ == "__main__":
    main()

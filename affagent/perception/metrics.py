"""The perception metrics, in plain numpy (shared by ``affagent eval`` and the training
scripts so that what is selected on dev is what is reported)."""

from __future__ import annotations

import numpy as np


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r (:func:`affagent.stats.pearson`); 0.0 when undefined (a constant side), so a
    degenerate head scores as uninformative rather than failing a training sweep."""
    from affagent.stats import pearson as _pearson

    r = _pearson(x, y)
    return 0.0 if r is None else r


def f1_per_label(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """F1 of each column of two (N, K) boolean matrices (0 where a label is never seen or
    predicted)."""
    pred = pred.astype(bool)
    gold = gold.astype(bool)
    tp = (pred & gold).sum(0).astype(np.float64)
    fp = (pred & ~gold).sum(0)
    fn = (~pred & gold).sum(0)
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)


def macro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(f1_per_label(pred, gold).mean())


def decide(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Labels at or above their threshold; the most likely label when none is."""
    pred = probs >= thresholds
    empty = ~pred.any(axis=1)
    pred[empty, probs[empty].argmax(axis=1)] = True
    return pred


def tune_thresholds(probs: np.ndarray, gold: np.ndarray,
                    grid: np.ndarray | None = None) -> np.ndarray:
    """Per-label thresholds maximising each label's F1 on (dev) data."""
    grid = np.arange(0.05, 0.96, 0.01) if grid is None else grid
    gold = gold.astype(bool)
    best = np.full(probs.shape[1], 0.5)
    best_f1 = np.full(probs.shape[1], -1.0)
    for t in grid:
        f1 = f1_per_label(probs >= t, gold)
        better = f1 > best_f1
        best[better] = t
        best_f1[better] = f1[better]
    return best


def accuracy_at_k(probs: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Share of rows whose gold class index is among the k most likely."""
    topk = np.argsort(-probs, axis=1)[:, :k]
    return float((topk == np.asarray(gold)[:, None]).any(axis=1).mean())

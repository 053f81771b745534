"""Bias control: shift a selector's log-probabilities so its choices stop favouring a few
strategies.

Why this works: the preference bias B of :mod:`affagent.strategy.metrics` compares, for every
strategy, how often it is predicted wrongly with how often it is missed. When the predicted
share of every strategy equals its true share, false positives equal false negatives class by
class and the Bradley–Terry scores are all close to 1. A classifier trained with cross-entropy
instead over-predicts the frequent strategies (argmax favours them), which is exactly the bias.

Two controls, both a per-strategy offset added to the log-probabilities before the argmax
(the reported probabilities are renormalised from the shifted values):

- :func:`prior_offsets` (``p_i / prior_i^τ``): one parameter, the classic prior correction;
- :func:`match_marginals`: offsets fitted so the argmax shares on held-out predictions equal a
  target distribution (the training prior), which targets B directly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply_offsets", "match_marginals", "prior_offsets"]


def prior_offsets(prior: np.ndarray, tau: float) -> np.ndarray:
    """``-τ · log prior``: dividing probabilities by ``prior^τ``."""
    return -tau * np.log(np.clip(np.asarray(prior, dtype=float), 1e-12, None))


def apply_offsets(log_probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Shifted, renormalised probabilities (rows sum to 1)."""
    z = np.asarray(log_probs, dtype=float) + offsets
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return np.asarray(p / p.sum(axis=-1, keepdims=True))


def match_marginals(
    log_probs: np.ndarray,
    target: np.ndarray,
    *,
    iters: int = 300,
    step: float = 0.5,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Offsets ``b`` such that the shares of ``argmax(log_probs + b)`` approach ``target``.

    A damped fixed-point iteration ``b_i += step · (log target_i − log share_i)`` with a
    shrinking step; deterministic. Offsets are centred (mean 0), since only differences matter.
    """
    lp = np.asarray(log_probs, dtype=float)
    k = lp.shape[1]
    tgt = np.clip(np.asarray(target, dtype=float), 1e-6, None)
    tgt = tgt / tgt.sum()
    b = np.zeros(k) if init is None else np.array(init, dtype=float)
    best, best_err = b.copy(), np.inf
    for it in range(iters):
        pred = np.argmax(lp + b, axis=1)
        share = np.bincount(pred, minlength=k) / len(pred)
        err = float(np.abs(share - tgt).sum())
        if err < best_err:
            best, best_err = b.copy(), err
        if err < 1e-3:
            break
        lr = step / (1 + it / 50)
        b = b + lr * (np.log(tgt) - np.log(np.clip(share, 0.5 / len(pred), None)))
        b -= b.mean()
    return best - best.mean()

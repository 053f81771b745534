"""Strategy-prediction metrics: proficiency and preference bias (Kang et al., ACL 2024).

Pure functions over lists of gold and predicted strategy names. Accuracy alone rewards a
predictor that always picks the frequent strategies; these metrics make that visible:

- ``Q``: macro-F1 over the strategies, ×100 (every strategy counts the same);
- ``Q_W``: support-weighted F1, ×100;
- ``B``: preference bias, the population standard deviation of Bradley–Terry preference
  scores fitted on the *off-diagonal* confusion counts (how often strategy *i* was predicted
  when *j* was gold). An unbiased predictor's mistakes spread evenly, so every score is 1 and
  ``B = 0``; a predictor that falls back on one strategy gives it a large score.

Example::

    >>> from affagent.strategy.metrics import evaluate
    >>> r = evaluate(["Question", "Others"], ["Question", "Question"])
    >>> round(r.accuracy, 2)
    0.5

Label spelling is normalised case-insensitively onto the canonical ESConv names, so
"Reflection of Feelings" and "Reflection of feelings" are the same strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from affagent.errors import DataFormatError

__all__ = [
    "STRATEGY_NAMES",
    "StrategyScores",
    "bradley_terry",
    "confusion_matrix",
    "evaluate",
    "f1_scores",
    "normalise_label",
    "preference_bias",
]

#: The eight ESConv strategies in the order of ``esconv/strategy.json``.
STRATEGY_NAMES: tuple[str, ...] = (
    "Question",
    "Restatement or Paraphrasing",
    "Reflection of feelings",
    "Self-disclosure",
    "Affirmation and Reassurance",
    "Providing Suggestions",
    "Information",
    "Others",
)

_BY_KEY = {n.casefold(): n for n in STRATEGY_NAMES}


def normalise_label(label: str, names: Sequence[str] = STRATEGY_NAMES) -> str:
    """Map a label onto its canonical spelling (case, brackets and spaces ignored).

    Raises :class:`DataFormatError` for a label that is not one of ``names``.
    """
    key = " ".join(label.strip().strip("[]").split()).casefold()
    table = _BY_KEY if names is STRATEGY_NAMES else {n.casefold(): n for n in names}
    try:
        return table[key]
    except KeyError:
        raise DataFormatError(
            f"unknown strategy {label!r}; expected one of: {', '.join(names)}"
        ) from None


def confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], names: Sequence[str] = STRATEGY_NAMES
) -> np.ndarray:
    """``C[i, j]`` = number of items predicted ``names[i]`` whose gold is ``names[j]``.

    Rows are predictions, columns gold, matching the paper's ``W[i][j]``.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred differ in length ({len(gold)} vs {len(pred)})")
    index = {n: k for k, n in enumerate(names)}
    c = np.zeros((len(names), len(names)), dtype=np.int64)
    for g, p in zip(gold, pred, strict=True):
        c[index[normalise_label(p, names)], index[normalise_label(g, names)]] += 1
    return c


def f1_scores(conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class F1 and gold support from a (pred × gold) confusion matrix.

    Precision or recall with a zero denominator counts as 0 (scikit-learn's default).
    """
    tp = np.diag(conf).astype(float)
    predicted = conf.sum(axis=1).astype(float)
    support = conf.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return f1, support


def bradley_terry(wins: np.ndarray, sweeps: int = 20) -> np.ndarray:
    """Bradley–Terry preference scores, fitted exactly as Kang et al. (2024) do.

    ``wins[i, j]`` counts how often *i* was preferred over *j* (here: predicted when *j* was
    gold); the diagonal is ignored. Starting from ``p = 1``, each sweep updates every ``p_i``
    in place::

        p_i ← Σ_{j≠i} W_ij · p_j / (p_i + p_j)  /  Σ_{j≠i} W_ji / (p_i + p_j)

    then divides by the geometric mean of the positive scores. The result is rescaled to sum
    to the number of strategies. A strategy never beaten keeps its previous score for that
    sweep (the update is undefined).
    """
    w = np.array(wins, dtype=float)
    n = w.shape[0]
    np.fill_diagonal(w, 0.0)
    p = np.ones(n)
    for _ in range(sweeps):
        for i in range(n):
            num = 0.0
            den = 0.0
            for j in range(n):
                if j == i:
                    continue
                s = p[i] + p[j]
                if s <= 0:  # both scores collapsed to 0: the pair carries no information
                    continue
                num += w[i, j] * p[j] / s
                den += w[j, i] / s
            if den > 0:
                p[i] = num / den
        pos = p[p > 0]
        if pos.size:
            p = p / float(np.exp(np.mean(np.log(pos))))
    total = p.sum()
    return p * (n / total) if total > 0 else np.ones(n)


def preference_bias(conf: np.ndarray, sweeps: int = 20) -> tuple[float, np.ndarray]:
    """``(B, p)``: the population SD of the Bradley–Terry scores ``p`` of a confusion matrix."""
    p = bradley_terry(conf, sweeps=sweeps)
    return float(np.std(p)), p


@dataclass(frozen=True)
class StrategyScores:
    """All figures of one evaluation. ``Q``/``Q_W`` are ×100; ``accuracy`` is 0..1."""

    Q: float
    Q_W: float
    B: float
    accuracy: float
    preference: dict[str, float]
    n: int
    per_class_f1: dict[str, float] = field(default_factory=dict)
    predicted_share: dict[str, float] = field(default_factory=dict)

    def as_dict(self, *, extra: bool = False) -> dict[str, object]:
        """The CLI's JSON keys (``Q, Q_W, B, accuracy, preference, n``), rounded."""
        d: dict[str, object] = {
            "Q": round(self.Q, 2),
            "Q_W": round(self.Q_W, 2),
            "B": round(self.B, 3),
            "accuracy": round(self.accuracy, 4),
            "preference": {k: round(v, 3) for k, v in self.preference.items()},
            "n": self.n,
        }
        if extra:
            d["per_class_f1"] = {k: round(v, 2) for k, v in self.per_class_f1.items()}
            d["predicted_share"] = {k: round(v, 4) for k, v in self.predicted_share.items()}
        return d


def evaluate(
    gold: Sequence[str], pred: Sequence[str], names: Sequence[str] = STRATEGY_NAMES
) -> StrategyScores:
    """Q, Q_W, B, accuracy and the preference scores of predictions against gold labels."""
    if not gold:
        raise ValueError("nothing to evaluate: no items")
    conf = confusion_matrix(gold, pred, names)
    f1, support = f1_scores(conf)
    q = float(f1.mean()) * 100
    q_w = float((f1 * support).sum() / support.sum()) * 100
    b, p = preference_bias(conf)
    n = int(conf.sum())
    predicted = conf.sum(axis=1)
    return StrategyScores(
        Q=q,
        Q_W=q_w,
        B=b,
        accuracy=float(np.trace(conf)) / n,
        preference={name: float(v) for name, v in zip(names, p, strict=True)},
        n=n,
        per_class_f1={name: float(v) * 100 for name, v in zip(names, f1, strict=True)},
        predicted_share={name: float(c) / n for name, c in zip(names, predicted, strict=True)},
    )

"""Baseline selectors: ``prior`` (always the most frequent training strategy, or a draw from
the training distribution) and ``uniform`` (a seeded uniform draw). They cost nothing and
anchor the figures: a selector that does not beat them has learned nothing."""

from __future__ import annotations

import numpy as np

from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import StrategyChoice, StrategyContext

__all__ = ["TRAIN_COUNTS", "PriorSelector", "UniformSelector", "train_prior"]

#: Strategy counts of the ESConv train split (seed-13 split), over every supporter turn after
#: the first of each dialogue (the examples :func:`affagent.strategy.data.iter_examples` yields).
TRAIN_COUNTS: dict[str, int] = {
    "Question": 2016,
    "Restatement or Paraphrasing": 770,
    "Reflection of feelings": 983,
    "Self-disclosure": 1182,
    "Affirmation and Reassurance": 1963,
    "Providing Suggestions": 1982,
    "Information": 831,
    "Others": 2122,
}


def train_prior() -> np.ndarray:
    """The training distribution in :data:`STRATEGY_NAMES` order."""
    c = np.array([TRAIN_COUNTS[n] for n in STRATEGY_NAMES], dtype=float)
    return np.asarray(c / c.sum())


class PriorSelector:
    """The ESConv training distribution. ``sample=False`` (default) always picks the most
    frequent strategy (the majority baseline); ``sample=True`` draws from the distribution
    with a seeded generator (a chance baseline with the right shares)."""

    name = "prior"

    def __init__(self, *, sample: bool = False, seed: int = 0) -> None:
        self.sample = sample
        self._rng = np.random.default_rng(seed)
        self._p = train_prior()

    def select(self, context: StrategyContext) -> StrategyChoice:
        del context
        probs = {n: float(p) for n, p in zip(STRATEGY_NAMES, self._p, strict=True)}
        if self.sample:
            k = int(self._rng.choice(len(self._p), p=self._p))
            why = "drawn at random from the ESConv training distribution"
        else:
            k = int(np.argmax(self._p))
            why = "the most frequent strategy in ESConv training data"
        return StrategyChoice(strategy=STRATEGY_NAMES[k], probabilities=probs, reason=why)


class UniformSelector:
    """Every strategy equally likely; the choice is a seeded uniform draw."""

    name = "uniform"

    def __init__(self, *, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)

    def select(self, context: StrategyContext) -> StrategyChoice:
        del context
        k = int(self._rng.integers(len(STRATEGY_NAMES)))
        probs = {n: 1 / len(STRATEGY_NAMES) for n in STRATEGY_NAMES}
        return StrategyChoice(
            strategy=STRATEGY_NAMES[k], probabilities=probs, reason="drawn uniformly at random"
        )

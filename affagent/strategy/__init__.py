"""Strategy selection: which ESConv support strategy the next reply should use.

- :func:`load_strategies` reads the catalogue (``strategies/*.yaml``);
- :mod:`affagent.strategy.metrics` scores predictions (Q, Q_W, preference bias B).
"""

from __future__ import annotations

from affagent.strategy.catalog import Strategy, load_strategies, load_strategy_file
from affagent.strategy.metrics import STRATEGY_NAMES, StrategyScores, evaluate

__all__ = [
    "STRATEGY_NAMES",
    "Strategy",
    "StrategyScores",
    "evaluate",
    "load_strategies",
    "load_strategy_file",
]

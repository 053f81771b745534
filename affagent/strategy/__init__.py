"""Strategy selection: which ESConv support strategy the next reply should use.

- :func:`load_strategies` reads the catalogue (``strategies/*.yaml``: name, definition,
  stage, guidance, example);
- :func:`load_selector` builds a :class:`~affagent.types.StrategySelector`:

  ==================  ======================================================================
  ``learned``         the perception encoder's vectors of the dialogue (already computed by
                      the agent's perceive/reflect: no extra encoder pass), the user's
                      perceived affect, previous strategies and position → a small numpy
                      head trained on ESConv; bias control on by default (kw: ``weights``,
                      ``encoder``, ``bias_control``)
  ``learned-minilm``  the first learned selector: its own frozen MiniLM pass over the recent
                      turns (same kw)
  ``llm``             asks a backend to name the strategy (kw: ``backend`` (required),
                      ``constrained``, ``strategies``, ``params``)
  ``prior``           the ESConv training distribution (kw: ``sample``, ``seed``)
  ``uniform``         a seeded uniform draw (kw: ``seed``)
  ==================  ======================================================================

- :mod:`affagent.strategy.metrics` scores predictions: proficiency Q (macro-F1), Q_W and the
  preference bias B of Kang et al. (ACL 2024).

Example::

    >>> from affagent.strategy import load_selector
    >>> from affagent.types import DialogueTurn, StrategyContext
    >>> sel = load_selector("prior")
    >>> sel.select(StrategyContext(dialogue=[DialogueTurn(speaker="usr", text="hi")])).strategy
    'Others'
"""

from __future__ import annotations

from typing import Any

from affagent.errors import ConfigError
from affagent.strategy.baselines import PriorSelector, UniformSelector
from affagent.strategy.catalog import Strategy, load_strategies, load_strategy_file
from affagent.strategy.metrics import STRATEGY_NAMES, StrategyScores, evaluate
from affagent.types import StrategySelector

SELECTOR_NAMES = ("learned", "learned-minilm", "llm", "prior", "uniform")

__all__ = [
    "SELECTOR_NAMES",
    "STRATEGY_NAMES",
    "Strategy",
    "StrategyScores",
    "evaluate",
    "load_selector",
    "load_strategies",
    "load_strategy_file",
]


def load_selector(name: str = "learned", **kw: Any) -> StrategySelector:
    """Build a selector by name (see the table above). ``None``-valued kw are dropped."""
    kw = {k: v for k, v in kw.items() if v is not None}
    key = name.strip().lower()
    try:
        if key in ("learned", "learned-minilm"):
            from affagent.strategy.learned import MINILM_WEIGHTS, LearnedSelector

            if key == "learned-minilm":
                kw.setdefault("weights", MINILM_WEIGHTS)
            return LearnedSelector(**kw)
        if key == "llm":
            from affagent.strategy.llm import LLMSelector

            if "backend" not in kw:
                raise ConfigError(
                    "the llm selector needs a backend (load_selector('llm', backend=...))"
                )
            return LLMSelector(**kw)
        if key == "prior":
            return PriorSelector(**kw)
        if key == "uniform":
            return UniformSelector(**kw)
    except TypeError as exc:
        raise ConfigError(f"selector {key!r}: {exc}") from None
    raise ConfigError(f"unknown selector {name!r} (choose from: {', '.join(SELECTOR_NAMES)})")

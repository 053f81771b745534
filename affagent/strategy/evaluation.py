"""Scoring a selector on an ESConv-format file: every supporter turn after the first of each
dialogue, with the gold strategies of the earlier supporter turns in its context (the usual
ESConv strategy-prediction protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from affagent.strategy.data import Example, iter_examples, load_esconv
from affagent.strategy.metrics import StrategyScores, evaluate
from affagent.types import DialogueTurn, StrategyContext, StrategySelector

__all__ = ["contexts_for", "evaluate_file", "evaluate_selector"]


def contexts_for(examples: Sequence[Example]) -> list[StrategyContext]:
    """A selector's view of each example: the dialogue before the turn, nothing more."""
    return [StrategyContext(dialogue=list(e.dialogue)) for e in examples]


def _predict(
    selector: StrategySelector,
    contexts: Sequence[StrategyContext],
    progress: Callable[[int], None] | None,
) -> list[str]:
    predict_proba = getattr(selector, "predict_proba", None)
    names = getattr(selector, "names", None)
    if predict_proba is not None and names is not None:
        probs = predict_proba(contexts, progress=progress)
        return [names[int(i)] for i in probs.argmax(axis=1)]
    aselect = getattr(selector, "aselect", None)
    if aselect is not None:

        async def run_all() -> list[str]:
            out = []
            for c in contexts:
                out.append((await aselect(c)).strategy)
                if progress is not None:
                    progress(1)
            return out

        return asyncio.run(run_all())
    out = []
    for c in contexts:
        out.append(selector.select(c).strategy)
        if progress is not None:
            progress(1)
    return out


def evaluate_selector(
    selector: StrategySelector,
    dialogues: Sequence[Sequence[DialogueTurn]],
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[StrategyScores, list[str], list[str]]:
    """``(scores, gold, predicted)`` of ``selector`` on the dialogues' examples."""
    examples = list(iter_examples(dialogues))[:limit]
    if not examples:
        raise ValueError("no supporter turns to score")
    pred = _predict(selector, contexts_for(examples), progress)
    gold = [e.gold for e in examples]
    return evaluate(gold, pred), gold, pred


def count_examples(path: str | Path, limit: int | None = None) -> int:
    n = sum(1 for _ in iter_examples(load_esconv(path)))
    return min(n, limit) if limit is not None else n


def evaluate_file(
    selector: StrategySelector, path: str | Path, **kw: Any
) -> tuple[StrategyScores, list[str], list[str]]:
    return evaluate_selector(selector, load_esconv(path), **kw)

"""The benchmark's cases: real supporter turns of ESConv-format dialogues, each with a drawn
target state and a drawn target strategy.

A case is a supporter turn that answers a seeker turn. The dialogue before it becomes the
agent's history the way the agent stores it, as (user, reply) pairs: consecutive turns of one
speaker are joined, a supporter's opening greeting (before any seeker turn) is dropped, and
the seeker's last turn(s) are the message being answered. The prompt builder then truncates
the history exactly as the agent does.

Targets are drawn independently and uniformly: V, A and D over :data:`TARGET_BOX`, the
strategy over the 8 ESConv strategies. The box is the range the shipped personas reach on
real support dialogues: ``python scripts/injection_target_range.py --data
../shared/data/esconv/valid.jsonl`` runs each persona's dynamics over every dialogue's
seeker turns (read by the default estimator) and reports the pooled 2.5th–97.5th
percentiles: V [−0.18, +0.79], A [−0.49, +0.65], D [−0.33, +0.38], rounded outward here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affagent.affect.vad import VAD
from affagent.strategy.data import load_esconv
from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import DialogueTurn

__all__ = ["TARGET_BOX", "Case", "draw_cases", "load_cases", "turn_pairs"]

#: (low, high) per axis for drawn target states; see the module docstring for the measurement.
TARGET_BOX: dict[str, tuple[float, float]] = {
    "V": (-0.2, 0.8),
    "A": (-0.5, 0.65),
    "D": (-0.35, 0.4),
}


@dataclass(frozen=True)
class Case:
    """One supporter turn to answer, with the target the agent is given."""

    case_id: str
    history: tuple[tuple[str, str], ...]
    user_text: str
    gold_strategy: str
    target: VAD
    strategy: str
    seed: int


def turn_pairs(dialogue: Sequence[DialogueTurn]) -> tuple[list[tuple[str, str]], str] | None:
    """A dialogue that ends with a seeker turn → (history pairs, the seeker's last message);
    None if it has no seeker turn."""
    blocks: list[tuple[str, str]] = []
    for t in dialogue:
        text = t.text.strip()
        if not text:
            continue
        if blocks and blocks[-1][0] == t.speaker:
            blocks[-1] = (t.speaker, f"{blocks[-1][1]} {text}")
        else:
            blocks.append((t.speaker, text))
    while blocks and blocks[0][0] == "sys":
        blocks.pop(0)
    if not blocks or blocks[-1][0] != "usr":
        return None
    pairs = [(blocks[i][1], blocks[i + 1][1]) for i in range(0, len(blocks) - 1, 2)]
    return pairs, blocks[-1][1]


def _candidates(dialogues: Sequence[Sequence[DialogueTurn]]) -> list[tuple[int, int]]:
    out = []
    for d, dialogue in enumerate(dialogues):
        for i, t in enumerate(dialogue):
            if t.speaker == "sys" and i > 0 and dialogue[i - 1].speaker == "usr":
                out.append((d, i))
    return out


def draw_cases(
    dialogues: Sequence[Sequence[DialogueTurn]], n: int, seed: int,
    strategies: Sequence[str] = STRATEGY_NAMES,
) -> list[Case]:
    """``n`` supporter turns sampled without replacement (all of them if fewer), each with a
    uniform target state and strategy; the same seed gives the same cases."""
    rng = np.random.default_rng(seed)
    cand = _candidates(dialogues)
    pick = rng.permutation(len(cand))[: min(n, len(cand))]
    cases = []
    for k, j in enumerate(sorted(int(p) for p in pick)):
        d, i = cand[j]
        split = turn_pairs(dialogues[d][:i])
        if split is None:  # pragma: no cover - a candidate always follows a seeker turn
            continue
        pairs, user = split
        v, a, dd = (float(rng.uniform(*TARGET_BOX[ax])) for ax in "VAD")
        cases.append(Case(
            case_id=f"{d}:{i}",
            history=tuple(pairs),
            user_text=user,
            gold_strategy=dialogues[d][i].strategy or "Others",
            target=VAD(round(v, 4), round(a, 4), round(dd, 4)),
            strategy=strategies[int(rng.integers(len(strategies)))],
            seed=seed * 100_003 + k,
        ))
    return cases


def load_cases(path: str | Path, n: int, seed: int) -> list[Case]:
    """Cases from an ESConv-format JSONL file (a malformed line is a
    :class:`~affagent.errors.DataFormatError` naming the file and line)."""
    return draw_cases(load_esconv(path), n, seed)

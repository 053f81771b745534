"""Features of a dialogue context for the learned selector.

The last few utterances go through the sentence encoder in one batch, and their embeddings
are pooled into three parts (the user's latest message(s), the supporter's previous turn, and
a window of the recent dialogue). Encoding utterances one by one, rather than a long window
string, keeps each encoder pass short and lets a caller cache them. A small vector of
structured features is appended: the previous strategies, where we are in the conversation,
the shape of the user's turn and, when given, the user's estimated VAD and its trend.

Everything here is pure and shared by training (``scripts/train_strategy.py``) and inference,
so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import DialogueTurn, VADEstimate

__all__ = [
    "N_STRUCTURED",
    "WINDOW_TURNS",
    "structured_features",
    "text_features",
    "texts_to_encode",
]

_INDEX = {n: i for i, n in enumerate(STRATEGY_NAMES)}
_K = len(STRATEGY_NAMES)
_POSITION_BINS = (1, 2, 3, 5, 8, 12, 20)  # supporter turns so far: ≤1, 2, 3, 4-5, ...
WINDOW_TURNS = 6


def _user_block(dialogue: Sequence[DialogueTurn]) -> list[DialogueTurn]:
    """The user's latest consecutive messages (ESConv users often send several in a row)."""
    i = len(dialogue) - 1
    while i >= 0 and dialogue[i].speaker != "usr":
        i -= 1
    block: list[DialogueTurn] = []
    while i >= 0 and dialogue[i].speaker == "usr":
        block.append(dialogue[i])
        i -= 1
    return block[::-1]


def _key(text: str) -> str:
    return text.strip()


def texts_to_encode(dialogue: Sequence[DialogueTurn]) -> list[str]:
    """The utterances :func:`text_features` needs embeddings for (unique, stripped)."""
    needed = [t.text for t in _user_block(dialogue)]
    needed += [t.text for t in dialogue[-WINDOW_TURNS:]]
    prev_sys = next((t.text for t in reversed(dialogue) if t.speaker == "sys"), None)
    if prev_sys is not None:
        needed.append(prev_sys)
    return list(dict.fromkeys(_key(t) for t in needed))


def text_features(
    dialogue: Sequence[DialogueTurn], embed: Mapping[str, np.ndarray], dim: int
) -> np.ndarray:
    """``[user block | previous supporter turn | recent window]`` mean utterance embeddings.

    ``embed`` maps each stripped utterance of :func:`texts_to_encode` to its (unit-norm)
    sentence embedding; a missing part (no supporter turn yet) is a zero vector.
    """

    def mean(turns: Sequence[DialogueTurn]) -> np.ndarray:
        if not turns:
            return np.zeros(dim, dtype=np.float32)
        return np.mean([embed[_key(t.text)] for t in turns], axis=0)

    prev_sys = [t for t in reversed(dialogue) if t.speaker == "sys"][:1]
    return np.concatenate(
        [mean(_user_block(dialogue)), mean(prev_sys), mean(dialogue[-WINDOW_TURNS:])]
    ).astype(np.float32)


def _one_hot(name: str | None) -> np.ndarray:
    v = np.zeros(_K + 1)
    v[_INDEX.get(name, _K) if name is not None else _K] = 1.0
    return v


def structured_features(
    dialogue: Sequence[DialogueTurn], user_vad: Sequence[VADEstimate] | None = None
) -> np.ndarray:
    """The non-text features (length :data:`N_STRUCTURED`), all roughly in 0..1.

    ``user_vad`` is one estimate per user turn (as in :class:`~affagent.types.StrategyContext`);
    when missing, the VAD block is zero and its presence flag is 0.
    """
    strategies = [t.strategy for t in dialogue if t.speaker == "sys"]
    prev1 = strategies[-1] if strategies else None
    prev2 = strategies[-2] if len(strategies) > 1 else None
    hist = np.zeros(_K)
    for s in strategies:
        if s in _INDEX:
            hist[_INDEX[s]] += 1
    if strategies:
        hist /= len(strategies)
    run = 0
    for t in reversed(dialogue):
        if t.speaker != "sys":
            break
        run += 1
    n_sys = len(strategies)
    pos = np.zeros(len(_POSITION_BINS) + 1)
    pos[int(np.searchsorted(_POSITION_BINS, n_sys))] = 1.0
    block = _user_block(dialogue)
    user_text = " ".join(t.text for t in block)
    words = len(user_text.split())
    prev_sys = next((t.text for t in reversed(dialogue) if t.speaker == "sys"), "")
    shape = np.array(
        [
            min(run, 3) / 3,
            float(run > 0),
            np.log1p(len(dialogue)) / 4,
            np.log1p(words) / 5,
            float("?" in user_text),
            min(len(block), 4) / 4,
            float("?" in prev_sys),
            np.log1p(len(prev_sys.split())) / 5,
        ]
    )
    vad = np.zeros(7)
    if user_vad:
        last = user_vad[-1]
        earlier = user_vad[:-1][-3:]
        vad[0:3] = (last.V, last.A, last.D)
        if earlier:
            mean = np.mean([(e.V, e.A, e.D) for e in earlier], axis=0)
            vad[3:6] = np.array(vad[0:3]) - mean
        vad[6] = 1.0
    return np.concatenate([_one_hot(prev1), _one_hot(prev2), hist, pos, shape, vad])


N_STRUCTURED = 2 * (_K + 1) + _K + len(_POSITION_BINS) + 1 + 8 + 7

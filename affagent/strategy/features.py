"""Features of a dialogue context for the learned selectors.

``learned`` (:func:`context_features`) reads the perception encoder's vectors of the dialogue's
utterances, which the agent has already computed (perceive, reflect): six text blocks (the
user's latest message(s), the user's last utterance, the supporter's previous two turns, the
recent window and everything the user has said), the user's perceived affect (the perception
heads' VAD and GoEmotions probabilities of their latest block and of all their turns), and
the structured features below.

``learned-minilm`` (:func:`text_features`): the last few utterances go through the sentence
encoder in one batch, and their embeddings are pooled into three parts (the user's latest
message(s), the supporter's previous turn, and a window of the recent dialogue). Encoding
utterances one by one, rather than a long window string, keeps each encoder pass short and
lets a caller cache them. A small vector of structured features is appended: the previous
strategies, where we are in the conversation, the shape of the user's turn and, when given,
the user's estimated VAD and its trend.

Everything here is pure and shared by training (``scripts/train_strategy.py``) and inference,
so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import DialogueTurn, VADEstimate

__all__ = [
    "CONTEXT_BLOCKS",
    "N_STRUCTURED",
    "WINDOW_TURNS",
    "context_features",
    "context_texts",
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


#: Text blocks of :func:`context_features`, in order.
CONTEXT_BLOCKS = ("user_block", "user_last", "sys_prev", "sys_prev2", "window", "user_all")


def context_texts(dialogue: Sequence[DialogueTurn]) -> list[str]:
    """The utterances :func:`context_features` needs vectors for: unique, as written (the
    perception encoder's cache is keyed by the exact text the agent perceived)."""
    sys_turns = [t.text for t in dialogue if t.speaker == "sys"][-2:]
    user = [t.text for t in dialogue if t.speaker == "usr"]
    window = [t.text for t in dialogue[-WINDOW_TURNS:]]
    return [t for t in dict.fromkeys([*user, *sys_turns, *window]) if t.strip()]


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.zeros_like(v)


def context_features(
    dialogue: Sequence[DialogueTurn],
    embed: Mapping[str, np.ndarray],
    dim: int,
    affect: Callable[[np.ndarray], np.ndarray],
    affect_dim: int,
) -> np.ndarray:
    """``[6 unit-norm text blocks | affect of the user's block | affect of all user turns |
    structured]`` for the ``learned`` selector (length ``6·dim + 2·affect_dim +``
    :data:`N_STRUCTURED`).

    ``embed`` maps each text of :func:`context_texts` to its (un-normalised) pooled vector;
    ``affect`` maps a pooled vector to the perception heads' readings (VAD, emotion
    probabilities). A block with no utterance (no supporter turn yet) is zero, and so is the
    affect of an empty block.
    """
    zero = np.zeros(dim, dtype=np.float32)

    def mean(turns: Sequence[DialogueTurn]) -> np.ndarray:
        vecs = [embed[t.text] for t in turns if t.text.strip()]
        return np.mean(vecs, axis=0) if vecs else zero

    user = [t for t in dialogue if t.speaker == "usr"]
    sys_turns = [t for t in dialogue if t.speaker == "sys"]
    block = mean(_user_block(dialogue))
    everything = mean(user)
    parts = [
        block,
        mean(user[-1:]),
        mean(sys_turns[-1:]),
        mean(sys_turns[-2:-1]),
        mean(dialogue[-WINDOW_TURNS:]),
        everything,
    ]

    def feel(v: np.ndarray) -> np.ndarray:
        if not v.any():
            return np.zeros(affect_dim, dtype=np.float32)
        return np.asarray(affect(v), dtype=np.float32).reshape(affect_dim)

    return np.concatenate(
        [*(_unit(p) for p in parts), feel(block), feel(everything), structured_features(dialogue)]
    ).astype(np.float32)

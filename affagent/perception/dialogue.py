"""The EmpatheticDialogues head reads a whole dialogue, not one text.

An EmpatheticDialogues conversation is labelled with the emotion of its *speaker*, who opens
it by describing a situation; the listener answers and the speaker goes on. The head's input
is built from the shared encoder's pooled vectors (one pass for every utterance not yet in the
cache) of the opening, of the speaker's and of the listener's turns, and of the whole context
joined (``H`` = the encoder's width)::

    [first utterance (H) | speaker's turns, mean (H) | listener's turns, mean (H)
     | joined context (H)]

The encoder itself was fine-tuned on GoEmotions (and EmoBank), so the ED head reads features
that already carry that transfer. Adding the GoEmotions and VAD heads' readings as explicit
inputs did not help on the selection part of the split (scripts/train_ed_head.py; figures in
evals/RESULTS.md), so they are not used.

A single text is a one-utterance dialogue (the speaker's opening), which is how the agent
calls the ``empathetic`` classifier on a user's message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from affagent.perception.data import CONTEXT_SEPARATOR

__all__ = ["dialogue_row", "dialogue_texts", "feature_width", "one_text_rows"]


def feature_width(hidden: int) -> int:
    return 4 * hidden


def dialogue_texts(context: Sequence[str]) -> list[str]:
    """The texts a row needs vectors for: each utterance and the joined context."""
    return list(dict.fromkeys([*context, CONTEXT_SEPARATOR.join(context)]))


def dialogue_row(
    context: Sequence[str], vector: Callable[[str], np.ndarray], hidden: int
) -> np.ndarray:
    """One feature row (see the module docstring); ``vector(text)`` is the pooled vector of a
    text of :func:`dialogue_texts`."""
    zero = np.zeros(hidden, dtype=np.float32)
    speaker = [vector(u) for u in context[0::2]]
    listener = [vector(u) for u in context[1::2]]
    first = speaker[0] if speaker else zero
    spk = np.mean(speaker, axis=0) if speaker else zero
    lis = np.mean(listener, axis=0) if listener else zero
    joined = vector(CONTEXT_SEPARATOR.join(context)) if context else zero
    return np.concatenate([first, spk, lis, joined]).astype(np.float32)


def one_text_rows(pooled: np.ndarray) -> np.ndarray:
    """Rows of one-utterance dialogues from their pooled vectors (N, H): the text is the
    opening, the speaker's turns and the joined context; the listener has not spoken."""
    return np.concatenate([pooled, pooled, np.zeros_like(pooled), pooled], axis=1)

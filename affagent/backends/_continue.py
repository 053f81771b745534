"""A prefilled stem must be continued, not closed.

The prompt builder starts some replies with a strategy's stem ("Maybe you could try",
"Can I ask,"). A small model sometimes closes the stem at once: "Maybe you could try." is a
complete sentence to the reply filter and nonsense to the reader. For the first token after
an unfinished stem, :class:`FirstTokenContinues` forbids the tokens that would end it: sentence
punctuation alone, a line break, end of text and the chat template's end-of-turn token.
After that the model is free ("Maybe you could try that." is its choice).

llama.cpp only (a ``logits_processor`` of llama-cpp-python); an OpenAI-compatible server gets
the stem as a plain prefill.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["FirstTokenContinues", "ending_token_ids", "is_unfinished_stem"]

#: Texts that end a sentence or the turn when they are the whole token.
_ENDINGS = (
    ".", "!", "?", "..", "...", "…", " .", " !", " ?", " ...", " …", ".\n", "!\n", "?\n",
    "\n", "\n\n", ".\n\n", '."', ".”", "?\"", "!\"",
)


def is_unfinished_stem(prefill: str) -> bool:
    """Does the prefill stop mid-sentence (a stem), rather than after a sentence?

    >>> is_unfinished_stem("Maybe you could try"), is_unfinished_stem("I'm sorry.")
    (True, False)
    >>> is_unfinished_stem("Oh... I'm sorry. Can I ask,"), is_unfinished_stem("")
    (True, False)
    """
    body = prefill.rstrip()
    return bool(body) and body[-1] not in ".!?…"


def ending_token_ids(llama: Any, stops: Iterable[str] = ()) -> list[int]:
    """The ids of the single tokens that would end the stem: each of :data:`_ENDINGS` that the
    tokenizer reads as one token, the end-of-text token and each stop text that is one
    (special) token, such as ``<|im_end|>``."""
    ids: set[int] = set()
    for text in _ENDINGS:
        toks = llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        if len(toks) == 1:
            ids.add(int(toks[0]))
    for stop in stops:
        toks = llama.tokenize(stop.encode("utf-8"), add_bos=False, special=True)
        if len(toks) == 1:
            ids.add(int(toks[0]))
    eos = int(llama.token_eos())
    if eos >= 0:
        ids.add(eos)
    return sorted(ids)


class FirstTokenContinues:
    """A llama-cpp-python logits processor: while fewer than ``n`` tokens follow the prompt
    (``prompt_len`` tokens), the ``banned`` ids cannot be sampled.

    >>> ban = FirstTokenContinues(prompt_len=3, banned=[0])
    >>> first = ban(np.array([5, 6, 7]), np.array([9.0, 1.0]))   # nothing generated yet
    >>> later = ban(np.array([5, 6, 7, 1]), np.array([9.0, 1.0]))  # one token generated
    >>> float(first[0]), float(later[0])
    (-inf, 9.0)
    """

    def __init__(self, prompt_len: int, banned: Sequence[int], n: int = 1) -> None:
        self.prompt_len = prompt_len
        self.banned = np.asarray(list(banned), dtype=np.intp)
        self.n = n

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if len(input_ids) - self.prompt_len < self.n and self.banned.size:
            scores[self.banned] = -np.inf
        return scores

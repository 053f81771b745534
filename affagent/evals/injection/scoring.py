"""Pure scoring functions of ``affagent eval injection``: what the model wrote, how whole and
varied it is, and how its tone follows the injected target.

Everything here is deterministic and model-free, so it is tested on known inputs. Tokens
here are words and punctuation marks (``\\w+`` runs and single other characters), not a
model's sub-word tokens, so lengths compare across models.

>>> own_words("Oh... that's hard. What happened?", "Oh... that's hard.")
'What happened?'
>>> complete_sentence("I see. Tell me more"), complete_sentence("I see. Tell me more.")
(False, True)
>>> round(distinct_n(["a b c", "a b d"], 2), 3)
0.75
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from affagent.backends._reply import split_sentences
from affagent.stats import bootstrap_ci, partial_pearson, pearson

__all__ = [
    "AXES",
    "complete_sentence",
    "copies_example",
    "distinct_n",
    "ends_with_question",
    "has_question",
    "own_words",
    "repeated_trigram_rate",
    "shuffled_pairs",
    "tokens",
    "tone_stats",
]

AXES = ("V", "A", "D")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_CLOSERS = "\"'”’)]*_"


def tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return _TOKEN.findall(text.lower())


def own_words(reply: str, inserted: str) -> str:
    """The model's own part of ``reply``: without the text a method put in front of it (a
    prefilled opener or stem). Whitespace between the two is dropped too.

    >>> own_words("So what happened next?", "So")
    'what happened next?'
    >>> own_words("Unrelated reply.", "Oh.")       # the insert is not there: nothing to strip
    'Unrelated reply.'
    """
    if inserted and reply.startswith(inserted):
        return reply[len(inserted):].strip()
    return reply.strip()


def complete_sentence(text: str) -> bool:
    """Does ``text`` end on a complete sentence? It must end with ``.``, ``!`` or ``?``
    (closing quotes or brackets may follow). A trailing ellipsis counts as trailing off, not
    as an ending; empty text is not complete.

    >>> [complete_sentence(t) for t in ("Okay!", 'He said "go."', "Well...", "So…", "")]
    [True, True, False, False, False]
    """
    body = text.rstrip().rstrip(_CLOSERS)
    if not body or body.endswith(("..", "…")):
        return False
    if body[-1] not in ".!?":
        return False
    sentences, rest = split_sentences(text.strip(), final=True)
    return bool(sentences) and not rest.strip()


def has_question(text: str) -> bool:
    """The reply asks something: a question mark anywhere."""
    return "?" in text


def ends_with_question(text: str) -> bool:
    """The reply's last sentence is a question."""
    return text.rstrip().rstrip(_CLOSERS).endswith("?")


def _ngrams(tok: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tok[i:i + n]) for i in range(len(tok) - n + 1)]


def _words(text: str) -> list[str]:
    """:func:`tokens` without the punctuation marks."""
    return [t for t in tokens(text) if re.match(r"\w", t)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Corpus-level distinct-n (Li et al. 2016): unique n-grams / all n-grams across the
    replies; 0 when there are none."""
    total = 0
    seen: set[tuple[str, ...]] = set()
    for t in texts:
        grams = _ngrams(tokens(t), n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def repeated_trigram_rate(text: str) -> float:
    """Share of a reply's word trigrams that already occurred earlier in the same reply
    (0 for a reply without any trigram).

    >>> repeated_trigram_rate("I am here. I am here.")  # 4 trigrams, the last repeats the first
    0.25
    """
    grams = _ngrams(_words(text), 3)
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(c - 1 for c in counts.values()) / len(grams)


def copies_example(text: str, example: str, n: int = 5) -> bool:
    """Does ``text`` reuse ``n`` consecutive words of ``example`` (the strategy's example in
    the prompt)? A model that parrots it tells a person worried about a friend to "write down
    the three tasks that worry you most". Score the model's own words (the stem stripped):
    stems and examples share words by design.

    >>> ex = "One thing that might help is writing down the three tasks that worry you most."
    >>> copies_example("try writing down the three tasks that worry you", ex)
    True
    >>> copies_example("maybe talk to your friend about the tasks", ex)
    False
    """
    return not set(_ngrams(_words(text), n)).isdisjoint(_ngrams(_words(example), n))


def shuffled_pairs(n: int, seed: int = 0) -> list[int]:
    """A derangement of ``range(n)`` (no index maps to itself; identity for n < 2): the
    shuffled pairing a relevance score is compared against."""
    if n < 2:
        return list(range(n))
    rng = np.random.default_rng(seed)
    while True:
        perm = [int(i) for i in rng.permutation(n)]
        if all(i != p for i, p in enumerate(perm)):
            return perm


def _r(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 4)


def tone_stats(
    target: Sequence[float], reply: Sequence[float], seeker: Sequence[float],
    *, n_boot: int = 1000, seed: int = 0,
) -> dict[str, object]:
    """One axis: Pearson r between target and reply, the partial r controlling for the
    seeker's estimated affect, and the 95 % bootstrap interval of each (``ci`` is the
    partial r's, the headline figure; ``r_ci`` the plain r's). Undefined values are None."""
    r = pearson(target, reply)
    pr = partial_pearson(target, reply, seeker)
    ci = bootstrap_ci(partial_pearson, target, reply, seeker, n_boot=n_boot, seed=seed)
    r_ci = bootstrap_ci(pearson, target, reply, n_boot=n_boot, seed=seed)
    return {
        "r": _r(r),
        "partial_r": _r(pr),
        "ci": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
        "r_ci": [round(r_ci[0], 4), round(r_ci[1], 4)] if r_ci else None,
    }

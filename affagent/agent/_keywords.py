"""A dependency-free fallback estimator: emotion words from Russell & Mehrabian (1977).

Used when :mod:`affagent.perception` (the trained estimator) is not installed, and by name
(``estimator="keywords"``) in tests and benchmarks that must not load a model. It averages
the VAD of the emotion words it finds (the 151 table terms, the GoEmotions/EmpatheticDialogues
labels via :data:`affagent.affect.labels.ALIASES`, and a few everyday words), flipping and
halving valence after a negation ("not happy"). Crude, but it moves the state the right way
on plainly emotional text and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from affagent.affect.labels import ALIASES, label_vad, prototypes
from affagent.affect.vad import VAD
from affagent.types import VADEstimate

#: Everyday words → the table term that locates them.
EXTRA: dict[str, str] = {
    "glad": "happy",
    "great": "happy",
    "wonderful": "joyful",
    "love": "affectionate",
    "thanks": "grateful",
    "thank": "grateful",
    "good": "happy",
    "nice": "happy",
    "awful": "distressed",
    "terrible": "distressed",
    "horrible": "distressed",
    "hurt": "pain",
    "hurts": "pain",
    "miserable": "depressed",
    "unhappy": "sad",
    "mad": "angry",
    "furious": "enraged",
    "scared": "fearful",
    "afraid": "fearful",
    "worried": "anxious",
    "nervous": "anxious",
    "stressed": "tense",
    "tired": "fatigued",
    "exhausted": "fatigued",
    "calm": "relaxed",
    "fine": "relaxed",
    "alone": "lonely",
    "cry": "sad",
    "crying": "sad",
    "hopeless": "despairing",
    "stupid": "contemptuous",
    "useless": "contemptuous",
    "idiot": "contemptuous",
    "annoying": "irritated",
    "better": "relaxed",
    "amazing": "elated",
    "excellent": "happy",
    "sorry": "regretful",
}
_NEGATIONS = {"not", "no", "never", "isn't", "wasn't", "don't", "didn't", "can't", "cannot"}
_WORD = re.compile(r"[a-z']+")


@lru_cache(maxsize=1)
def lexicon() -> dict[str, VAD]:
    lex = {p.term: p.mean for p in prototypes() if " " not in p.term}
    for word, term in [*ALIASES.items(), *EXTRA.items()]:
        try:
            lex.setdefault(word, label_vad(term))
        except KeyError:
            continue
    return lex


class KeywordEstimator:
    """See the module docstring. Confidence is 0 for empty text, 0.3 when no emotion word is
    found, and grows with the number of words found (0.5, 0.7, 0.9)."""

    name = "keywords"

    def estimate(self, texts: Sequence[str]) -> list[VADEstimate]:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> VADEstimate:
        if not text or not text.strip():
            return VADEstimate(confidence=0.0)
        lex = lexicon()
        words = _WORD.findall(text.lower())
        hits: list[VAD] = []
        for i, w in enumerate(words):
            vad = lex.get(w) or lex.get(w.rstrip("s"))
            if vad is None:
                continue
            if _NEGATIONS & set(words[max(0, i - 2) : i]):
                vad = VAD(-0.5 * vad.v, vad.a * 0.5, vad.d * 0.5)
            hits.append(vad)
        if not hits:
            return VADEstimate(confidence=0.3)
        n = len(hits)
        mean = VAD(*(sum(axis) / n for axis in zip(*hits, strict=True)))
        return VADEstimate.of(mean.clamped(), confidence=min(0.9, 0.3 + 0.2 * n))

"""VAD estimators: the trained encoder model (``default``) and the NRC lexicon (``lexicon``).

Both are memoryless and batched, return values on −1..+1, and never raise on odd input: empty
or whitespace-only text gives a neutral estimate with zero confidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from affagent.affect.vad import VAD
from affagent.errors import ConfigError, DataFormatError
from affagent.perception.model import PerceptionModel, load_model
from affagent.types import VADEstimate

NEUTRAL_ESTIMATE = VADEstimate(V=0.0, A=0.0, D=0.0, confidence=0.0)


class EncoderVADEstimator:
    """VAD from the shared encoder and a linear head trained on EmoBank.

    Example::

        est = EncoderVADEstimator()
        est.estimate(["I finally got the job!"])[0].V   # ≈ +0.5

    Texts longer than the encoder window are truncated (see
    :mod:`affagent.perception.encoder`)."""

    name = "default"

    def __init__(self, model: PerceptionModel | None = None, *, weights: str | Path | None = None,
                 runtime: str | None = None) -> None:
        self._model = model
        self._weights = weights
        self._runtime = runtime

    @property
    def model(self) -> PerceptionModel:
        if self._model is None:
            self._model = load_model(self._weights, runtime=self._runtime)
        return self._model

    def estimate(self, texts: Sequence[str]) -> list[VADEstimate]:
        live = [t for t in texts if t.strip()]
        if not live:
            return [NEUTRAL_ESTIMATE for _ in texts]
        head = self.model.head("vad")
        encs = self.model.encode(live)
        import numpy as np

        preds = head.logits(np.stack([e.pooled for e in encs]))
        by_text = {t: VAD.of(p).clamped() for t, p in zip(live, preds, strict=True)}
        return [VADEstimate.of(by_text[t]) if t.strip() else NEUTRAL_ESTIMATE for t in texts]


_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
LEXICON_COLUMNS = "TSV columns Word, Valence, Arousal, Dominance (0-1 scores)"


@lru_cache(maxsize=4)
def read_nrc_lexicon(path: str) -> dict[str, VAD]:
    """The NRC VAD lexicon (v1 TSV ``Word\\tValence\\tArousal\\tDominance``; header optional),
    scores converted from 0–1 to −1..+1."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: NRC VAD lexicon not found (set AFFAGENT_NRC_LEXICON)")
    lex: dict[str, VAD] = {}
    with p.open(encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(parts) != 4:
                raise DataFormatError(f"{p}: line {i} has {len(parts)} field(s); "
                                      f"expected {LEXICON_COLUMNS}")
            try:
                v, a, d = (float(x) for x in parts[1:])
            except ValueError:
                if i == 1:  # header
                    continue
                raise DataFormatError(f"{p}: line {i}: scores are not numbers; "
                                      f"expected {LEXICON_COLUMNS}") from None
            lex[parts[0].lower()] = VAD.from_nrc(v, a, d)
    if not lex:
        raise DataFormatError(f"{p}: empty lexicon; expected {LEXICON_COLUMNS}")
    return lex


class LexiconVADEstimator:
    """The mean NRC VAD of the words of a text found in the lexicon: the simple baseline of the
    explicit-state-dynamics work. ``confidence`` is the share of words found.

    The lexicon is not shipped (NRC's licence: research use; commercial use needs NRC's
    consent): pass ``path=`` or set ``AFFAGENT_NRC_LEXICON``."""

    name = "lexicon"

    def __init__(self, path: str | Path | None = None) -> None:
        from affagent.settings import settings

        path = path or settings().nrc_lexicon
        if not path:
            raise ConfigError(
                "the lexicon estimator needs the NRC VAD lexicon file: pass path= or set "
                "AFFAGENT_NRC_LEXICON (the lexicon is not shipped: research-only licence)"
            )
        self.path = Path(path)
        self.lexicon = read_nrc_lexicon(str(self.path))

    def estimate(self, texts: Sequence[str]) -> list[VADEstimate]:
        out = []
        for t in texts:
            words = [w.lower() for w in _WORD.findall(t)]
            hits = [self.lexicon[w] for w in words if w in self.lexicon]
            if not hits:
                out.append(NEUTRAL_ESTIMATE)
                continue
            n = len(hits)
            mean = VAD(sum(h.v for h in hits) / n, sum(h.a for h in hits) / n,
                       sum(h.d for h in hits) / n)
            out.append(VADEstimate.of(mean.clamped(), confidence=n / len(words)))
        return out

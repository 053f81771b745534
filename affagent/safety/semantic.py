"""A semantic backstop for the rules: nearest labelled examples in sentence-embedding space.

Rules miss paraphrases they were not written for ("nobody would miss me if I was gone").
:class:`EmbeddingRiskDetector` embeds the message with all-MiniLM-L6-v2 (the perception
encoder, base weights) and compares it with labelled prototypes (``prototypes.jsonl``: our
dev set of risk statements and hard negatives). The score is the mean cosine similarity to
the 3 nearest risk prototypes minus that to the 3 nearest non-risk ones; above ``threshold``
the message is flagged with severity ``medium`` (the reply asks directly instead of assuming)
and the category of the nearest risk prototype.

:class:`HybridDetector` flags what either flags, except that an embedding hit is ignored when
the rules found a risk phrase and dropped it as negated, past or about someone else ("I've
never thought about suicide") — embeddings do not read negation.

The threshold (0.05) was chosen on the prototypes themselves by leave-one-out, where it gives
precision ≈ recall ≈ 0.85; it was not tuned on the test or probe sets. Because the prototypes
ARE ``evals/safety/dev.jsonl``, evaluate this detector on the other sets only.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affagent.safety.detector import (
    CATEGORIES,
    FLAG_THRESHOLD,
    Category,
    RiskAssessment,
    RuleBasedDetector,
    RuleHit,
)

PROTOTYPES = Path(__file__).with_name("prototypes.jsonl")
DEFAULT_THRESHOLD = 0.05
_K = 3


def _read_prototypes(path: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            texts.append(obj["text"])
            labels.append(obj["label"])
    return texts, labels


@lru_cache(maxsize=2)
def _shared_encoder(model_dir: str | None) -> Any:
    from affagent.perception.encoder import Encoder

    return Encoder(model_dir, cache_size=8)


class EmbeddingRiskDetector:
    """kNN over labelled prototypes in all-MiniLM-L6-v2 space (loads torch on first use)."""

    name = "embedding"

    def __init__(
        self,
        *,
        prototypes: str | Path = PROTOTYPES,
        threshold: float = DEFAULT_THRESHOLD,
        encoder: Any = None,
        model_dir: str | None = None,
    ) -> None:
        self.threshold = threshold
        self._encoder = encoder
        self._model_dir = model_dir
        self._path = Path(prototypes)
        self._lock = threading.Lock()
        self._pos: np.ndarray | None = None
        self._neg: np.ndarray | None = None
        self._pos_labels: list[str] = []

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            self._encoder = _shared_encoder(self._model_dir)
        x = np.asarray(self._encoder.pooled(texts), dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)

    def _ready(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._pos is None or self._neg is None:
                texts, labels = _read_prototypes(self._path)
                emb = self._embed(texts)
                pos = [i for i, lab in enumerate(labels) if lab != "none"]
                neg = [i for i, lab in enumerate(labels) if lab == "none"]
                self._pos, self._neg = emb[pos], emb[neg]
                self._pos_labels = [labels[i] for i in pos]
            return self._pos, self._neg

    def warm_up(self) -> None:
        self._ready()

    def score(self, text: str) -> tuple[float, Category]:
        pos, neg = self._ready()
        x = self._embed([text])[0]
        sp, sn = pos @ x, neg @ x
        top = np.argsort(sp)[-_K:]
        s = float(sp[top].mean() - np.sort(sn)[-_K:].mean())
        label = self._pos_labels[int(top[-1])]
        return s, ("violence" if label == "violence" else "self_harm")

    def assess(self, text: str) -> RiskAssessment:
        if not text.strip():
            zero: dict[str, float] = dict.fromkeys(CATEGORIES, 0.0)
            return RiskAssessment(False, None, None, zero)
        s, cat = self.score(text)
        scores: dict[str, float] = {c: (round(s, 4) if c == cat else 0.0) for c in CATEGORIES}
        if s <= self.threshold:
            return RiskAssessment(False, None, None, scores)
        hit = RuleHit("semantic.nearest", cat, "medium", FLAG_THRESHOLD, (0, len(text)), text)
        return RiskAssessment(True, cat, "medium", scores, (hit,))


class HybridDetector:
    """Rules first; the embedding backstop for what they miss (see the module doc)."""

    name = "hybrid"

    def __init__(
        self,
        rules: RuleBasedDetector | None = None,
        semantic: EmbeddingRiskDetector | None = None,
    ) -> None:
        self.rules = rules or RuleBasedDetector()
        self.semantic = semantic or EmbeddingRiskDetector()

    def warm_up(self) -> None:
        self.semantic.warm_up()

    def assess(self, text: str) -> RiskAssessment:
        r = self.rules.assess(text)
        if r.flagged:
            return r
        explicit_no = any(d.endswith((":negated", ":past", ":third_person")) for d in r.dropped)
        if explicit_no and not r.hits:
            return r
        return self.semantic.assess(text)


def load_detector(name: str = "rules") -> Any:
    """``rules`` | ``hybrid`` | ``auto`` (hybrid when the perception extra is installed, else
    rules). ``hybrid`` without the encoder is a :class:`~affagent.errors.ConfigError`."""
    from affagent.errors import ConfigError

    if name == "rules":
        return RuleBasedDetector()
    if name in ("hybrid", "auto"):
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401

            from affagent.perception.encoder import default_encoder_dir

            default_encoder_dir()
        except (ImportError, ConfigError) as exc:
            if name == "auto":
                import logging

                logging.getLogger("affagent.safety").warning(
                    "safety detector 'auto': no sentence encoder (%s); using rules only", exc
                )
                return RuleBasedDetector()
            raise ConfigError(
                f"safety detector 'hybrid' needs the perception extra: {exc}"
            ) from None
        return HybridDetector()
    raise ConfigError(f"unknown safety detector {name!r}; choose rules, hybrid or auto")

"""Emotion classifier plugins: a label distribution plus the words that cause the top label.

Built in (and registered in the ``affagent.classifiers`` entry-point group):

- ``goemotions``: 28 GoEmotions labels (27 emotions + neutral), multi-label: ``labels`` holds
  each label's own probability (sigmoid), which need not sum to 1;
- ``empathetic``: the 32 EmpatheticDialogues emotions, one label: ``labels`` is a softmax
  distribution.

Both are heads on the shared encoder, so with the VAD estimator one encoder pass per text serves
all three. Cause words come from *pooled occlusion* by default (a word's tokens are dropped from
the mean pool and the head re-scored, from the same forward pass); ``cause_method="exact"``
re-encodes the text once per word with the word removed (slower, n passes). When the top
GoEmotions label is ``neutral`` the causes explain the strongest non-neutral label instead.
Only content words are named (:mod:`affagent.perception.causes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from affagent.errors import ConfigError
from affagent.perception.causes import rank_causes
from affagent.perception.encoder import Encoded
from affagent.perception.model import Head, PerceptionModel, load_model
from affagent.types import EmotionResult

CauseMethod = Literal["pooled", "exact"]


class EncoderEmotionClassifier:
    """A linear head of the shared perception model, as an :class:`EmotionClassifier`.

    Example::

        clf = EncoderEmotionClassifier("goemotions")
        r = clf.classify(["I miss my dog so much"])[0]
        r.top(3)      # [("sadness", 0.71), ...]
        r.causes      # [("miss", 1.9), ("dog", 0.4), ...]
    """

    def __init__(
        self,
        head: str = "goemotions",
        *,
        model: PerceptionModel | None = None,
        weights: str | Path | None = None,
        n_causes: int = 3,
        cause_method: CauseMethod = "pooled",
        runtime: str | None = None,
    ) -> None:
        if cause_method not in ("pooled", "exact"):
            raise ConfigError(f"cause_method must be 'pooled' or 'exact', not {cause_method!r}")
        self.name = head
        self.label_set = head
        self._head_name = head
        self._model = model
        self._weights = weights
        self.n_causes = n_causes
        self.cause_method = cause_method
        self._runtime = runtime

    @property
    def model(self) -> PerceptionModel:
        if self._model is None:
            self._model = load_model(self._weights, runtime=self._runtime)
        return self._model

    @property
    def head(self) -> Head:
        return self.model.head(self._head_name)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.head.labels

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(N, K) label probabilities, in :attr:`labels` order (empty text → all zero)."""
        head = self.head
        out = np.zeros((len(texts), len(head.labels)), dtype=np.float32)
        live = [i for i, t in enumerate(texts) if t.strip()]
        if live:
            encs = self.model.encode([texts[i] for i in live])
            x = np.stack([self.model.head_input(head, e) for e in encs])
            out[live] = head.probs(head.logits(x))
        return out

    def probabilities_dialogues(self, contexts: Sequence[Sequence[str]]) -> np.ndarray:
        """(N, K) label probabilities of whole dialogues (utterances in order, the speaker
        first). A ``dialogue`` head (``empathetic``) reads every turn; a head on one text
        reads the utterances joined. A dialogue with no text → all zero."""
        from affagent.perception.data import CONTEXT_SEPARATOR

        head = self.head
        if head.input != "dialogue":
            return self.probabilities([CONTEXT_SEPARATOR.join(c) for c in contexts])
        out = np.zeros((len(contexts), len(head.labels)), dtype=np.float32)
        live = [i for i, c in enumerate(contexts) if any(u.strip() for u in c)]
        if live:
            rows = self.model.dialogue_rows([contexts[i] for i in live])
            out[live] = head.probs(head.logits(rows))
        return out

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Multi-label decision (N, K) bool: labels at or above their tuned threshold, or the
        most likely label when none is."""
        head = self.head
        thr = head.thresholds if head.thresholds is not None else np.full(probs.shape[1], 0.5)
        pred = probs >= thr
        empty = ~pred.any(axis=1)
        pred[empty, probs[empty].argmax(axis=1)] = True
        return pred

    def classify(self, texts: Sequence[str], *, causes: bool = True) -> list[EmotionResult]:
        head = self.head
        results: list[EmotionResult] = []
        live = [t for t in texts if t.strip()]
        encs = dict(zip(live, self.model.encode(live), strict=True)) if live else {}
        for t in texts:
            enc = encs.get(t)
            if enc is None:
                results.append(EmotionResult(label_set=self.label_set))
                continue
            p = head.probs(head.logits(self.model.head_input(head, enc)))
            order = np.argsort(-p)
            dist = {head.labels[i]: round(float(p[i]), 6) for i in order}
            cause_list: list[tuple[str, float]] = []
            if causes and enc.words:
                target = int(order[0])
                if head.labels[target] == "neutral" and len(order) > 1:
                    target = int(order[1])
                cause_list = self._causes(t, enc, head, target)
            results.append(EmotionResult(label_set=self.label_set, labels=dist,
                                         causes=cause_list))
        return results

    def _causes(self, text: str, enc: Encoded, head: Head, target: int
                ) -> list[tuple[str, float]]:
        if self.cause_method == "exact":
            scored = self._exact_occlusion(text, enc, head, target)
        else:
            scored = self.model.pooled_occlusion(enc, head, target)
        return rank_causes(scored, self.n_causes)

    def _exact_occlusion(self, text: str, enc: Encoded, head: Head, target: int
                         ) -> list[tuple[str, float]]:
        """Re-encode the text's words with each word left out in turn and re-score (the base
        is the words joined, so punctuation dropped from both sides alike)."""
        words = [w for w, _ in enc.words]
        variants = [" ".join(words)] + [
            " ".join(words[:i] + words[i + 1 :]) for i in range(len(words))
        ]
        pooled = self.model.encoder.pooled(variants)
        if head.input == "dialogue":
            from affagent.perception.dialogue import one_text_rows

            pooled = one_text_rows(pooled)
        logits = head.logits(pooled)[:, target]
        drops = logits[0] - logits[1:]
        return [(w, float(d)) for w, d in zip(words, drops, strict=True)]


def goemotions(**kw: object) -> EncoderEmotionClassifier:
    """Entry point ``goemotions``: the 28-label GoEmotions head."""
    return EncoderEmotionClassifier("goemotions", **kw)  # type: ignore[arg-type]


def empathetic(**kw: object) -> EncoderEmotionClassifier:
    """Entry point ``empathetic``: the 32-label EmpatheticDialogues head."""
    return EncoderEmotionClassifier("empathetic", **kw)  # type: ignore[arg-type]

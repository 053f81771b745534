"""The learned selector: frozen sentence embeddings + structured features → a small numpy
head (trained by ``scripts/train_strategy.py`` on ESConv train), with bias control.

Inference is one encoder pass over the last few utterances (cached across turns) and a
matrix product; no torch beyond the encoder. The head file (``.npz``) holds the layers, the
input standardisation, the bias-control offsets and a JSON ``meta`` record of how it was
trained and what it scored.

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
from affagent.strategy.encoder import TextEncoder, minilm
from affagent.strategy.features import (
    N_STRUCTURED,
    structured_features,
    text_features,
    texts_to_encode,
)
from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import StrategyChoice, StrategyContext

__all__ = ["DEFAULT_WEIGHTS", "LearnedSelector", "StrategyHead", "load_head"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "_weights" / "strategy_head.npz"
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
            h = h @ w + b
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

    ``bias_control=False`` returns the head's raw probabilities (the ablation); ``encoder``
    replaces the shared MiniLM (tests, or a caller that already holds one).
    """

    name = "learned"

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
        if encoder is not None and encoder.dim != meta.get("dim", encoder.dim):
            raise ConfigError(f"encoder dim {encoder.dim} != head's {meta.get('dim')}")

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = minilm()
        return self._encoder

    def warm_up(self) -> None:
        """Load the encoder now instead of on the first :meth:`select`."""
        warm = getattr(self.encoder, "warm_up", None)
        if callable(warm):
            warm()

    def features(self, contexts: Sequence[StrategyContext]) -> np.ndarray:
        """The head's input rows for a batch of contexts (one encoder pass)."""
        texts = list(dict.fromkeys(t for c in contexts for t in texts_to_encode(c.dialogue)))
        vecs = self.encoder.encode(texts) if texts else np.zeros((0, self.encoder.dim))
        table = dict(zip(texts, vecs, strict=True))
        uses_vad = bool(self.head.meta.get("uses_vad", False))
        rows = []
        for c in contexts:
            s = structured_features(c.dialogue, c.user_vad if uses_vad else None)
            rows.append(np.concatenate([text_features(c.dialogue, table, self.encoder.dim), s]))
        return np.stack(rows)

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

    def choice(self, context: StrategyContext, probs: np.ndarray) -> StrategyChoice:
        """Wrap one row of probabilities as a :class:`StrategyChoice` with a reason."""
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
        if self.bias_control:
            bits.append("balanced against the training prior")
        return StrategyChoice(
            strategy=best,
            probabilities={n: float(v) for n, v in zip(self.names, probs, strict=True)},
            reason="; ".join(bits),
        )

    def select(self, context: StrategyContext) -> StrategyChoice:
        return self.choice(context, self.predict_proba([context])[0])

    def select_many(self, contexts: Sequence[StrategyContext]) -> list[StrategyChoice]:
        probs = self.predict_proba(contexts)
        return [self.choice(c, p) for c, p in zip(contexts, probs, strict=True)]

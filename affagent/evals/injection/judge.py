"""The adherence judge: which ESConv strategy does a reply carry?

A text → strategy classifier over what the supporter *wrote* (with the seeker turn before it
as context), trained by ``scripts/train_strategy_judge.py`` on ESConv train supporter turns
and shipped as ``affagent/_weights/strategy_judge.npz`` (a standardised multinomial logistic
regression over frozen all-MiniLM-L6-v2 embeddings and a few surface features). Its own
accuracy and macro-F1 on ESConv valid (in the file's ``meta``) are the ceiling an adherence
figure is read against: human supporters' labels are noisy and often mix strategies.

It is a different question from the strategy *selector* (:mod:`affagent.strategy.learned`),
which predicts the next strategy from the dialogue before the reply is written.

Example::

    judge = load_judge()
    judge.classify(["What has been the hardest part?"], ["I lost my job."])  # ['Question']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affagent.errors import ConfigError
from affagent.strategy.encoder import TextEncoder, minilm
from affagent.strategy.metrics import STRATEGY_NAMES

__all__ = ["DEFAULT_JUDGE", "N_SURFACE", "StrategyJudge", "load_judge", "surface_features"]

DEFAULT_JUDGE = Path(__file__).resolve().parents[2] / "_weights" / "strategy_judge.npz"

_OPENINGS = (
    r"^(so|it sounds like|it seems|you (feel|are feeling|must feel)|i (hear|understand))\b",
    r"^(i|i'm|i've|i was|my|when i)\b",
    r"^(you (are|have|did|should be)|that'?s (great|good|brave|a great))\b",
    r"\b(maybe|perhaps|try|could you|have you (tried|considered)|you (could|might|should))\b",
    r"\b(hi|hello|thanks?|thank you|welcome|bye|good luck|take care)\b",
)
_OPENING_RES = [re.compile(p) for p in _OPENINGS]
N_SURFACE = 4 + len(_OPENINGS)


def surface_features(text: str) -> np.ndarray:
    """Cues an embedding blurs: asks a question (anywhere / at the end), log length in words,
    sentences, and a handful of opening and phrase patterns typical of single strategies."""
    t = " ".join(text.lower().split())
    words = max(1, len(t.split()))
    sentences = max(1, len(re.findall(r"[.!?]+(\s|$)", t)))
    feats = [
        float("?" in t),
        float(t.rstrip("\"')").endswith("?")),
        math.log(words),
        math.log(sentences),
        *(float(bool(r.search(t))) for r in _OPENING_RES),
    ]
    return np.asarray(feats, dtype=np.float32)


def design_matrix(
    reply_emb: np.ndarray, context_emb: np.ndarray, replies: Sequence[str]
) -> np.ndarray:
    """The judge's input rows: reply embedding, context embedding, surface features."""
    surf = np.stack([surface_features(r) for r in replies]) if replies else np.zeros(
        (0, N_SURFACE), np.float32)
    return np.concatenate([reply_emb, context_emb, surf], axis=1).astype(np.float32)


class StrategyJudge:
    """Standardise → linear → softmax over the 8 ESConv strategies, in numpy."""

    def __init__(
        self, W: np.ndarray, b: np.ndarray, mean: np.ndarray, scale: np.ndarray,
        meta: dict[str, Any], encoder: TextEncoder | None = None,
    ) -> None:
        self.W, self.b, self.mean, self.scale = W, b, mean, scale
        self.meta = meta
        self.names: list[str] = list(meta.get("names", STRATEGY_NAMES))
        self._encoder = encoder

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = minilm()
        return self._encoder

    @property
    def ceiling(self) -> dict[str, float]:
        """Its own accuracy and macro-F1 on ESConv valid (from training)."""
        return dict(self.meta.get("valid", {}))

    def proba_rows(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.W + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def proba(self, replies: Sequence[str], contexts: Sequence[str]) -> np.ndarray:
        if len(replies) != len(contexts):
            raise ValueError("one context per reply")
        if not replies:
            return np.zeros((0, len(self.names)))
        r = self.encoder.encode([t if t.strip() else "." for t in replies])
        c = self.encoder.encode([t if t.strip() else "." for t in contexts])
        return self.proba_rows(design_matrix(r, c, list(replies)))

    def classify(self, replies: Sequence[str], contexts: Sequence[str]) -> list[str]:
        p = self.proba(replies, contexts)
        return [self.names[int(i)] for i in p.argmax(axis=1)] if len(p) else []


def load_judge(path: str | Path | None = None) -> StrategyJudge:
    """The shipped judge (or another ``.npz`` from the training script)."""
    p = Path(path) if path is not None else DEFAULT_JUDGE
    return _load(str(p.resolve()), p.stat().st_mtime if p.exists() else 0.0)


@lru_cache(maxsize=2)
def _load(path: str, mtime: float) -> StrategyJudge:
    del mtime
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return StrategyJudge(
                z["W"].astype(np.float32), z["b"].astype(np.float32),
                z["mean"].astype(np.float32), z["scale"].astype(np.float32), meta,
            )
    except FileNotFoundError:
        raise ConfigError(
            f"strategy judge not found: {path} (train it with scripts/train_strategy_judge.py)"
        ) from None
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: not a strategy judge file ({exc})") from None

"""Activation steering for the embedded backend: direction vectors per model, scaled by the
agent's state and added to llama.cpp's residual stream.

Vectors are computed per model by ``scripts/steering_vectors.py`` and shipped as
``affagent/_weights/steering/<model file stem>.npz`` (``V``, ``A``, ``D``: blocks × hidden
size, row k for block k's output, in the model's own units; see that script). A model file
gets the vectors whose stem *and* byte size match it, so a different quantisation of the same
model never picks up another file's vectors. A sidecar ``<stem>.json`` holds the settings the
injection benchmark chose on ESConv valid (``blocks``: first and last block steered,
``scale``: multiplier on the state's coefficients, ``scope``: ``reply`` or ``all``; see
evals/RESULTS.md); backend options override them.

What is added to block k's output for a turn with state (v, a, d) and strategy s::

    scale · (v · V[k] + a · A[k] + d · D[k] + S[k])      for blocks[0] ≤ k ≤ blocks[1]

where ``S`` is the direction ``strategy:<s>`` when the file has one and its sidecar lists s
under ``strategies`` (``scripts/strategy_directions.py``; which strategies, and why not all
eight: evals/RESULTS.md, "Per-strategy steering"), and zero otherwise.

``scope="reply"`` reads the prompt unsteered and steers only the reply's tokens (so the
prompt cache stays valid); ``scope="all"`` steers the prompt too.

llama.cpp's ``llama_set_adapter_cvec(ctx, data, len, n_embd, il_start, il_end)`` takes one
float32 row per layer *starting from layer 1* (layer 0 never gets a vector) and adds row
``il - 1`` to the output of block ``il`` for ``il_start ≤ il ≤ il_end``; ``data=NULL``
clears it. The buffer can change between calls, so every turn gets its own state.
"""

from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from affagent.errors import ConfigError

__all__ = [
    "STEERING_DIR",
    "SteeringSettings",
    "SteeringVectors",
    "apply_cvec",
    "clear_cvec",
    "cvec_rows",
    "find_vectors",
    "load_vectors",
    "turn_coefficients",
]

STEERING_DIR = Path(__file__).resolve().parents[1] / "_weights" / "steering"
Scope = Literal["reply", "all"]


@dataclass(frozen=True)
class SteeringSettings:
    """Which blocks are steered (inclusive, 0-based block indices), the multiplier on the
    state's coefficients, whether the prompt is steered too, and which strategies' directions
    (``strategy:<name>``) are applied: the others are left out of a turn's steering."""

    blocks: tuple[int, int] = (8, 18)
    scale: float = 1.0
    scope: Scope = "reply"
    strategies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        lo, hi = self.blocks
        if lo < 1 or hi < lo:
            raise ConfigError(f"steering blocks must satisfy 1 <= first <= last (got {lo}, {hi})")
        if self.scope not in ("reply", "all"):
            raise ConfigError(f"steering scope must be reply or all (got {self.scope!r})")


@dataclass(frozen=True)
class SteeringVectors:
    """Directions (blocks × hidden, float32) for one model file: ``V``, ``A``, ``D`` and any
    ``strategy:<name>``."""

    path: Path
    directions: Mapping[str, np.ndarray]
    meta: dict[str, Any]
    settings: SteeringSettings = field(default_factory=SteeringSettings)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.directions)

    @property
    def blocks(self) -> int:
        return int(next(iter(self.directions.values())).shape[0])

    @property
    def hidden(self) -> int:
        return int(next(iter(self.directions.values())).shape[1])


def find_vectors(model_path: str | Path, directory: str | Path | None = None) -> Path | None:
    """The shipped vectors file for a model file (same stem and byte size), or None."""
    model = Path(model_path)
    cand = Path(directory or STEERING_DIR) / f"{model.stem}.npz"
    if not cand.is_file() or not model.is_file():
        return None
    meta = _meta(str(cand), cand.stat().st_mtime)
    if int(meta.get("model_bytes", -1)) != model.stat().st_size:
        return None
    return cand


@lru_cache(maxsize=8)
def _meta(path: str, mtime: float) -> dict[str, Any]:
    del mtime
    with np.load(path, allow_pickle=False) as z:
        meta: dict[str, Any] = json.loads(str(z["meta"]))
    return meta


def load_vectors(path: str | Path) -> SteeringVectors:
    """Read a vectors file and its sidecar settings (``<stem>.json``, optional)."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            dirs = {k: z[k].astype(np.float32) for k in z.files if k != "meta"}
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{p}: not a steering vectors file ({exc})") from None
    if not {"V", "A", "D"} & set(dirs):
        raise ConfigError(f"{p}: no direction arrays (V, A, D)")
    side = p.with_suffix(".json")
    settings = SteeringSettings()
    if side.is_file():
        try:
            raw = json.loads(side.read_text(encoding="utf-8"))
            settings = SteeringSettings(
                blocks=(int(raw["blocks"][0]), int(raw["blocks"][1])),
                scale=float(raw["scale"]), scope=raw.get("scope", "reply"),
                strategies=tuple(str(x) for x in raw.get("strategies", ())))
        except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise ConfigError(f"{side}: invalid steering settings ({exc})") from None
    return SteeringVectors(p, dirs, meta, settings)


def turn_coefficients(vectors: SteeringVectors, coefs: Mapping[str, float]) -> dict[str, float]:
    """A turn's coefficients as this file applies them: a ``strategy:<name>`` direction the
    file lacks or its settings do not apply is left out (the strategy is a refinement a model
    may not have); any other unknown name is an error.

    >>> vec = SteeringVectors(Path("m.npz"), {k: np.zeros((2, 4)) for k in
    ...     ("V", "A", "D", "strategy:Question", "strategy:Information")}, {},
    ...     SteeringSettings(strategies=("Question",)))
    >>> turn_coefficients(vec, {"V": 0.5, "strategy:Question": 1.0})
    {'V': 0.5, 'strategy:Question': 1.0}
    >>> turn_coefficients(vec, {"V": 0.5, "strategy:Information": 1.0, "strategy:Others": 1.0})
    {'V': 0.5}
    """
    applied = {f"strategy:{s}" for s in vectors.settings.strategies}
    out = {k: float(v) for k, v in coefs.items()
           if not k.startswith("strategy:") or (k in applied and k in vectors.directions)}
    unknown = sorted(set(out) - set(vectors.directions))
    if unknown:
        raise ConfigError(
            f"no steering direction {', '.join(unknown)} for this model "
            f"(it has: {', '.join(vectors.names)})")
    return out


def cvec_rows(
    vectors: SteeringVectors, coefs: Mapping[str, float], settings: SteeringSettings,
    n_layers: int,
) -> np.ndarray:
    """The llama.cpp buffer: ``n_layers`` rows of hidden size, row ``il - 1`` for block
    ``il``; only the steered blocks are non-zero. Unknown direction names are an error."""
    unknown = sorted(set(coefs) - set(vectors.directions))
    if unknown:
        raise ConfigError(
            f"no steering direction {', '.join(unknown)} for this model "
            f"(it has: {', '.join(vectors.names)})")
    if n_layers != vectors.blocks:
        raise ConfigError(
            f"{vectors.path.name}: vectors for {vectors.blocks} blocks, model has {n_layers}")
    total = np.zeros((vectors.blocks, vectors.hidden), dtype=np.float32)
    for name, c in coefs.items():
        if c:
            total += np.float32(c) * vectors.directions[name]
    out = np.zeros((n_layers, vectors.hidden), dtype=np.float32)
    lo, hi = settings.blocks
    hi = min(hi, n_layers - 1)
    out[lo - 1:hi] = settings.scale * total[lo:hi + 1]
    return out


_LOCK = threading.Lock()


def apply_cvec(ctx: Any, rows: np.ndarray, blocks: tuple[int, int]) -> None:
    """Set ``rows`` (from :func:`cvec_rows`) as the context's control vector."""
    import llama_cpp

    buf = np.ascontiguousarray(rows, dtype=np.float32).ravel()
    ptr = buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    lo, hi = blocks
    with _LOCK:
        rc = llama_cpp.llama_set_adapter_cvec(
            ctx, ptr, buf.size, rows.shape[1], lo, min(hi, rows.shape[0] - 1))
    if rc != 0:
        raise ConfigError(f"llama.cpp refused the steering vector (code {rc})")


def clear_cvec(ctx: Any, n_embd: int) -> None:
    """Remove any control vector from the context."""
    import llama_cpp

    with _LOCK:
        llama_cpp.llama_set_adapter_cvec(ctx, None, 0, n_embd, -1, -1)

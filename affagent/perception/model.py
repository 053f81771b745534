"""The trained perception model: the shared encoder plus linear heads, loaded from a weights
folder (``meta.json`` + ``model.safetensors``).

The shipped folder is ``affagent/_weights/perception``; ``$AFFAGENT_PERCEPTION_WEIGHTS`` or
the ``weights`` keyword points elsewhere (e.g. a model you trained with
``scripts/train_perception_lora.py``). Layout of ``model.safetensors``:

- ``heads.<name>.weight`` (K×H) and ``heads.<name>.bias`` (K) for each head in ``meta.json``
  (``vad``: 3 outputs on −1..+1; ``goemotions``: 28 logits, sigmoid; ``empathetic``: 32 logits,
  softmax);
- ``encoder.<param>.lora_A`` / ``lora_B``: a LoRA adapter merged at load time
  (scale ``meta["lora"]["alpha"] / meta["lora"]["rank"]``);
- ``encoder.<param>``: encoder weights replaced outright (small ones, e.g. LayerNorms).

Heads are linear on the mean-pooled token states, which makes cause words cheap: removing a
word from the mean pool changes each logit by a closed-form amount (see
:meth:`PerceptionModel.pooled_occlusion`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affagent.errors import ConfigError
from affagent.perception.encoder import Encoded, Encoder

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "_weights" / "perception"


def default_weights_dir() -> Path:
    from affagent.settings import settings

    env = settings().perception_weights
    return env if env else WEIGHTS_DIR


@dataclass(frozen=True, slots=True)
class Head:
    name: str
    kind: str  # "regression" | "multilabel" | "multiclass"
    labels: tuple[str, ...]
    weight: np.ndarray  # (K, F): F = H for a "pooled" head
    bias: np.ndarray  # (K,)
    thresholds: np.ndarray | None = None  # multilabel decision thresholds, per label
    input: str = "pooled"  # "pooled": one text's vector; "dialogue": perception.dialogue rows

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x @ self.weight.T + self.bias, dtype=np.float32)

    def probs(self, logits: np.ndarray) -> np.ndarray:
        if self.kind == "multilabel":
            return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)
        if self.kind == "multiclass":
            z = logits - logits.max(axis=-1, keepdims=True)
            e = np.exp(z)
            return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float32)
        return logits


class PerceptionModel:
    """Encoder + heads. Build with :func:`load_model` (cached per process)."""

    def __init__(self, weights_dir: str | Path | None = None, *, encoder_dir: str | Path | None
                 = None, max_length: int | None = None, runtime: str | None = None,
                 threads: int | None = None) -> None:
        from safetensors.numpy import load_file

        self.weights_dir = Path(weights_dir) if weights_dir else default_weights_dir()
        meta_path = self.weights_dir / "meta.json"
        if not meta_path.is_file():
            raise ConfigError(f"{self.weights_dir}: no perception weights (meta.json missing)")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        tensors = load_file(str(self.weights_dir / "model.safetensors"))
        self.heads: dict[str, Head] = {}
        for name, spec in self.meta["heads"].items():
            thr = spec.get("thresholds")
            self.heads[name] = Head(
                name=name,
                kind=spec["kind"],
                labels=tuple(spec["labels"]),
                weight=tensors[f"heads.{name}.weight"].astype(np.float32),
                bias=tensors[f"heads.{name}.bias"].astype(np.float32),
                thresholds=np.asarray(thr, dtype=np.float32) if thr is not None else None,
                input=str(spec.get("input", "pooled")),
            )
        enc = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
        lora = self.meta.get("lora") or {}
        self.encoder = Encoder(
            encoder_dir,
            params={k: v.astype(np.float32) for k, v in enc.items()},
            lora_scale=float(lora.get("alpha", 1.0)) / float(lora.get("rank", 1.0)),
            max_length=int(max_length or self.meta.get("max_length", 256)),
            runtime=runtime,
            threads=threads,
        )

    def head(self, name: str) -> Head:
        try:
            return self.heads[name]
        except KeyError:
            raise ConfigError(
                f"perception weights {self.weights_dir} have no {name!r} head "
                f"(have: {', '.join(self.heads)})"
            ) from None

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        return self.encoder.encode(texts)

    def dialogue_rows(self, contexts: Sequence[Sequence[str]]) -> np.ndarray:
        """Input rows of a ``dialogue`` head (:mod:`affagent.perception.dialogue`), one encoder
        pass over every utterance and joined context not in the cache. Empty utterances are
        dropped; a context with none left gives a zero row."""
        from affagent.perception.dialogue import dialogue_row, dialogue_texts, feature_width

        kept = [[u for u in c if u.strip()] for c in contexts]
        texts = list(dict.fromkeys(t for c in kept if c for t in dialogue_texts(c)))
        table = {t: e.pooled for t, e in zip(texts, self.encode(texts), strict=True)}
        hidden = self.encoder.hidden_size
        zero = np.zeros(feature_width(hidden), dtype=np.float32)
        rows = [dialogue_row(c, table.__getitem__, hidden) if c else zero for c in kept]
        return np.stack(rows) if rows else zero[None, :0]

    def head_input(self, head: Head, enc: Encoded) -> np.ndarray:
        """What ``head`` reads for one encoded text (a one-utterance dialogue for a
        ``dialogue`` head)."""
        if head.input != "dialogue":
            return enc.pooled
        from affagent.perception.dialogue import one_text_rows

        return one_text_rows(enc.pooled[None, :])[0]

    def pooled_occlusion(self, enc: Encoded, head: Head, label: int) -> list[tuple[str, float]]:
        """For each word, how much its removal from the mean pool lowers ``label``'s logit.

        With n pooled tokens and the word's tokens S, the pool without the word is
        (n·p − Σ_S h) / (n − |S|): no extra encoder pass, one small matmul per text."""
        n = enc.states.shape[0]
        if not enc.words or n <= 1:
            return []
        total = enc.pooled * n
        rows = []
        for _, idx in enc.words:
            k = len(idx)
            rows.append((total - enc.states[list(idx)].sum(0)) / max(n - k, 1))
        occluded = np.stack(rows)
        if head.input == "dialogue":
            from affagent.perception.dialogue import one_text_rows

            occluded = one_text_rows(occluded)
        base = float(head.logits(self.head_input(head, enc))[label])
        drops = base - head.logits(occluded)[:, label]
        return [(w, float(d)) for (w, _), d in zip(enc.words, drops, strict=True)]


_MODELS: dict[tuple[str, str, int | None, str, str], PerceptionModel] = {}
_MODELS_LOCK = threading.Lock()


def load_model(weights: str | Path | None = None, *, encoder_dir: str | Path | None = None,
               max_length: int | None = None, runtime: str | None = None,
               threads: int | None = None) -> PerceptionModel:
    """The process-wide model for these weights (built on first use). The estimator and the
    classifier share it, and so share one encoder pass per text. ``runtime``/``threads``
    default to ``$AFFAGENT_PERCEPTION_RUNTIME``/``$AFFAGENT_PERCEPTION_THREADS``."""
    wd = str(Path(weights) if weights else default_weights_dir())
    from affagent.settings import settings

    env = settings()
    runtime = runtime or env.perception_runtime
    key = (wd, str(encoder_dir or ""), max_length, runtime,
           str(threads or env.perception_threads or ""))
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = PerceptionModel(wd, encoder_dir=encoder_dir, max_length=max_length,
                                           runtime=runtime, threads=threads)
        return _MODELS[key]


def save_weights(
    out_dir: str | Path,
    heads: dict[str, Head],
    *,
    encoder_params: dict[str, np.ndarray] | None = None,
    lora: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
    max_length: int = 256,
) -> Path:
    """Write a weights folder :class:`PerceptionModel` loads. Encoder tensors are stored in
    fp16 (they are deltas or small replacements), heads in fp32."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"encoder": "sentence-transformers/all-MiniLM-L6-v2",
                            "pooling": "mean", "max_length": max_length, "lora": lora,
                            "heads": {}, "info": info or {}}
    for name, h in heads.items():
        tensors[f"heads.{name}.weight"] = np.ascontiguousarray(h.weight, dtype=np.float32)
        tensors[f"heads.{name}.bias"] = np.ascontiguousarray(h.bias, dtype=np.float32)
        meta["heads"][name] = {
            "kind": h.kind,
            "input": h.input,
            "labels": list(h.labels),
            "thresholds": None if h.thresholds is None else [round(float(t), 4)
                                                              for t in h.thresholds],
        }
    for k, v in (encoder_params or {}).items():
        tensors[f"encoder.{k}"] = np.ascontiguousarray(v, dtype=np.float16)
    save_file(tensors, str(out / "model.safetensors"))
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out

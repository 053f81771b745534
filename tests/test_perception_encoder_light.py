"""The light encoder path: ``tokenizers`` + a cached ONNX export must give what transformers'
tokenizer + the same export gave (ids, offsets, pooled vectors, cause words), and a process
that finds the export cached must not import torch or transformers."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from affagent.perception.encoder import Encoder, default_encoder_dir, group_words

pytestmark = pytest.mark.slow

TEXTS = [
    "I failed my exam and I don't know what to do...",
    "What a lovely surprise!",
    "ok",
    "",
    "Je suis tellement triste aujourd'hui 😭 狗死了",
    "word " * 400,  # truncated
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(max_length=64, runtime="onnx", cache_size=0)


def _reference(enc: Encoder, texts: list[str]) -> tuple[dict[str, np.ndarray], list]:
    """The previous path: transformers' fast tokenizer (numpy tensors) and its offsets."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(default_encoder_dir()))
    b = tok(texts, padding=True, truncation=True, max_length=enc.max_length,
            return_offsets_mapping=True, return_tensors="np")
    offsets = b.pop("offset_mapping").tolist()
    return {k: np.asarray(v, dtype=np.int64) for k, v in b.items()}, offsets


def test_tokenization_matches_transformers(encoder: Encoder) -> None:
    ref, ref_offsets = _reference(encoder, TEXTS)
    got = encoder._tokenize(TEXTS)
    for k in ("input_ids", "attention_mask", "token_type_ids"):
        assert got[k].shape == ref[k].shape and (got[k] == ref[k]).all(), k
    assert [[tuple(o) for o in row] for row in got["offset_mapping"]] == \
        [[tuple(o) for o in row] for row in ref_offsets]
    assert got["input_ids"].shape[1] == encoder.max_length  # the long text was truncated


def test_pooled_and_words_match_previous_path(encoder: Encoder) -> None:
    ref, ref_offsets = _reference(encoder, TEXTS)
    states = np.asarray(encoder._ort.run(None, ref)[0], dtype=np.float32)
    mask = ref["attention_mask"].astype(np.float32)
    pooled = (states * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
    got = encoder.encode(TEXTS)
    for i, (text, e) in enumerate(zip(TEXTS, got, strict=True)):
        n = int(mask[i].sum())
        assert np.abs(e.pooled - pooled[i]).max() < 1e-5
        words = group_words(text, [tuple(o) for o in ref_offsets[i][:n]])
        assert e.words == tuple((w, tuple(idx)) for w, idx in words)
    assert got[-1].truncated and not got[0].truncated


def test_cached_export_needs_no_torch(encoder: Encoder) -> None:
    code = (
        "import sys\n"
        "from affagent.perception.encoder import Encoder\n"
        "e = Encoder(max_length=64, runtime='auto')\n"
        "assert e.runtime == 'onnx', e.runtime\n"
        "v = e.encode(['I failed my exam'])[0].pooled\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "print(heavy, float(v[0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out[0] == "[]", out
    ref = encoder.encode(["I failed my exam"])[0].pooled[0]
    assert abs(float(out[1]) - float(ref)) < 1e-5


def test_optimised_copy_is_saved_and_gives_the_same_states(encoder: Encoder) -> None:
    import onnxruntime as ort

    path = encoder._onnx_path()
    opt = path.with_name(f"{path.stem}.opt-{ort.__version__}.onnx")
    assert opt.is_file()  # written when the fixture's session opened
    batch = {k: v for k, v in encoder._tokenize(TEXTS[:3]).items() if k != "offset_mapping"}
    from_export = encoder._ort_session(path, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    a = from_export.run(None, batch)[0]
    b = encoder._ort.run(None, batch)[0]
    assert np.abs(a - b).max() < 1e-6


def test_an_unreadable_optimised_copy_is_rebuilt(encoder: Encoder) -> None:
    import onnxruntime as ort

    path = encoder._onnx_path()
    opt = path.with_name(f"{path.stem}.opt-{ort.__version__}.onnx")
    good = opt.read_bytes()
    try:
        opt.write_bytes(b"garbage")
        e = Encoder(max_length=64, runtime="onnx", cache_size=0)
        assert e.runtime == "onnx"
        assert opt.read_bytes() != b"garbage"
        assert np.abs(e.encode(["ok"])[0].pooled - encoder.encode(["ok"])[0].pooled).max() < 1e-6
    finally:
        if opt.read_bytes() == b"garbage":
            opt.write_bytes(good)


def test_a_cache_that_cannot_take_the_optimised_copy_still_serves(
    encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort

    path = encoder._onnx_path()
    opt = path.with_name(f"{path.stem}.opt-{ort.__version__}.onnx")
    real = Encoder._ort_session

    def no_saving(self: Encoder, p: object, level: object, save_to: object = None) -> object:
        if save_to is not None:
            raise OSError("read-only file system")
        return real(self, p, level)  # type: ignore[arg-type]

    monkeypatch.setattr(Encoder, "_ort_session", no_saving)
    monkeypatch.setattr(type(opt), "is_file", lambda self: self != opt and os.path.isfile(self))
    e = Encoder(max_length=64, runtime="onnx", cache_size=0)
    assert e.runtime == "onnx"
    assert np.abs(e.encode(["ok"])[0].pooled - encoder.encode(["ok"])[0].pooled).max() < 1e-6


def test_two_first_exports_at_once_both_succeed(tmp_path: os.PathLike[str]) -> None:
    """A first `affagent prepare` exports two encoders in parallel threads of a fresh process:
    both must end on onnxruntime (they used to race on transformers' lazy imports and on
    torch.onnx's global export flag, and one fell back to torch)."""
    code = """
import threading
from affagent.perception.encoder import Encoder
out = {}
def build(scale):
    out[scale] = Encoder(max_length=16, runtime="auto", cache_size=0, lora_scale=scale).runtime
ts = [threading.Thread(target=build, args=(s,)) for s in (1.0, 0.5)]
[t.start() for t in ts]
[t.join() for t in ts]
print(sorted(out.values()))
"""
    env = {**os.environ, "AFFAGENT_CACHE_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "['onnx', 'onnx']", r.stderr
    assert "using torch" not in r.stderr

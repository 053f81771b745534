"""Named emotions ↔ VAD points, from Russell & Mehrabian (1977).

Russell & Mehrabian located 151 emotion terms in PAD space with per-axis standard deviations of
0.2–0.5 ("Evidence for a three-factor theory of emotions", J. Research in Personality 11, Table 4;
the table is a set of published facts and ships as ``russell_mehrabian_1977.csv``, with the OCR
slips of the source fixed: IExcited → excited, ICapable → capable, IIIUpset → upset,
Deliant → defiant). Categories overlap, so a state is described by a *mixture*: each term is a
Gaussian prototype N(μ, diag σ²) and

    p(term | x) ∝ Π_axis N(x_axis; μ_axis, σ_axis²)

normalised over the vocabulary (a uniform prior). There is no "neutral" term in the table; by
convention neutral is the origin.

The reverse direction (label → VAD) serves classifier outputs: GoEmotions and
EmpatheticDialogues labels are mapped to their closest term in the table (:data:`ALIASES`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from affagent.affect.vad import VAD

#: Classifier labels (GoEmotions, EmpatheticDialogues) → the Russell & Mehrabian term used for
#: their VAD location. Chosen by hand as the closest term in meaning.
ALIASES: dict[str, str] = {
    # GoEmotions (27 + neutral)
    "admiration": "impressed",
    "amusement": "happy",
    "anger": "angry",
    "annoyance": "irritated",
    "approval": "cooperative",
    "caring": "kind",
    "confusion": "confused",
    "curiosity": "curious",
    "desire": "interested",
    "disappointment": "discouraged",
    "disapproval": "displeased",
    "disgust": "disgusted",
    "embarrassment": "embarrassed",
    "excitement": "excited",
    "fear": "fearful",
    "gratitude": "grateful",
    "grief": "anguished",
    "joy": "joyful",
    "love": "affectionate",
    "nervousness": "anxious",
    "optimism": "hopeful",
    "pride": "proud",
    "realization": "alert",
    "relief": "relaxed",
    "remorse": "regretful",
    "sadness": "sad",
    "surprise": "surprised",
    # EmpatheticDialogues (32)
    "afraid": "fearful",
    "annoyed": "irritated",
    "anticipating": "alert",
    "apprehensive": "tense",
    "ashamed": "shamed",
    "confident": "secure",
    "content": "relaxed",
    "devastated": "crushed",
    "disappointed": "discouraged",
    "faithful": "devoted",
    "furious": "enraged",
    "jealous": "suspicious",
    "nostalgic": "quiet",
    "prepared": "capable",
    "sentimental": "affectionate",
    "trusting": "secure",
}


#: The everyday words :func:`describe` uses in prompts: a curated subset of the table that covers
#: every octant of VAD space, leaving out terms whose everyday meaning misleads in a prompt
#: ("reprehensible", "sinful", "insolent", "hungry"...). :func:`mixture` still uses all 151.
DESCRIPTIVE_TERMS: frozenset[str] = frozenset(
    [
        "excited",
        "joyful",
        "happy",
        "proud",
        "inspired",
        "interested",
        "hopeful",
        "triumphant",
        "bold",
        "surprised",
        "fascinated",
        "grateful",
        "loved",
        "impressed",
        "curious",
        "relaxed",
        "secure",
        "untroubled",
        "carefree",
        "quiet",
        "angry",
        "hostile",
        "irritated",
        "frustrated",
        "defiant",
        "contemptuous",
        "scornful",
        "suspicious",
        "fearful",
        "distressed",
        "embarrassed",
        "upset",
        "confused",
        "tense",
        "insecure",
        "humiliated",
        "helpless",
        "troubled",
        "anxious",
        "disdainful",
        "bored",
        "uninterested",
        "detached",
        "skeptical",
        "sad",
        "depressed",
        "lonely",
        "discouraged",
        "weary",
        "listless",
        "subdued",
        "friendly",
        "kind",
        "cooperative",
        "appreciative",
        "thankful",
        "alert",
        "serious",
        "reserved",
        "solemn",
        "displeased",
        "dissatisfied",
        "discontented",
        "guilty",
        "regretful",
        "shy",
        "timid",
        "despairing",
        "enraged",
    ]
)


@dataclass(frozen=True, slots=True)
class Prototype:
    term: str
    mean: VAD
    sd: VAD


@lru_cache(maxsize=1)
def prototypes() -> tuple[Prototype, ...]:
    """The 151 terms of Russell & Mehrabian (1977), Table 4."""
    text = resources.files("affagent.affect").joinpath("russell_mehrabian_1977.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return tuple(
        Prototype(
            r["term"],
            VAD(float(r["P_mean"]), float(r["A_mean"]), float(r["D_mean"])),
            VAD(float(r["P_sd"]), float(r["A_sd"]), float(r["D_sd"])),
        )
        for r in rows
    )


@lru_cache(maxsize=32)
def _arrays(vocabulary: frozenset[str] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ps = [p for p in prototypes() if vocabulary is None or p.term in vocabulary]
    mu = np.array([p.mean.as_tuple() for p in ps])
    sd = np.array([p.sd.as_tuple() for p in ps])
    return mu, sd, [p.term for p in ps]


def mixture(
    x: VAD, top_k: int | None = 5, vocabulary: frozenset[str] | None = None
) -> list[tuple[str, float]]:
    """The soft mixture over named emotions at ``x``, most likely first. Probabilities sum to 1
    over the vocabulary (all 151 terms by default; ``top_k=None`` returns every term)."""
    mu, sd, terms = _arrays(vocabulary)
    z = (np.array(x.as_tuple()) - mu) / sd
    loglik = -0.5 * (z * z).sum(axis=1) - np.log(sd).sum(axis=1)
    p = np.exp(loglik - loglik.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    if top_k is not None:
        order = order[:top_k]
    return [(terms[i], float(p[i])) for i in order]


def label_vad(label: str) -> VAD:
    """A label's VAD location: a Russell & Mehrabian term, or a classifier label via
    :data:`ALIASES`; ``neutral`` is the origin. Raises ``KeyError`` for unknown labels."""
    key = label.strip().lower()
    if key == "neutral":
        return VAD()
    key = ALIASES.get(key, key)
    loc = _locations().get(key)
    if loc is None:
        raise KeyError(f"no VAD location for emotion label {label!r}")
    return loc


@lru_cache(maxsize=1)
def _locations() -> dict[str, VAD]:
    return {p.term: p.mean for p in prototypes()}


def expected_vad(distribution: dict[str, float]) -> VAD:
    """The probability-weighted mean VAD of a label distribution (unknown labels skipped)."""
    tot = 0.0
    acc = [0.0, 0.0, 0.0]
    for label, p in distribution.items():
        try:
            loc = label_vad(label)
        except KeyError:
            continue
        tot += p
        for i, c in enumerate(loc):
            acc[i] += p * c
    if tot <= 0:
        return VAD()
    return VAD(acc[0] / tot, acc[1] / tot, acc[2] / tot)


def intensity_word(norm: float) -> str:
    """``slightly`` / ``mildly`` / ``clearly`` / ``strongly`` for a distance from neutral."""
    if norm < 0.3:
        return "slightly"
    if norm < 0.55:
        return "mildly"
    if norm < 0.8:
        return "clearly"
    return "strongly"


def describe(state: VAD, velocity: VAD | None = None, top_k: int = 2) -> str:
    """Plain words for a state, e.g. ``"mildly irritated and suspicious, calming down"``: the
    intensity from the distance to neutral, the top terms of the mixture over
    :data:`DESCRIPTIVE_TERMS`, the trend from the velocity. Near the origin the state reads as
    ``"calm and neutral"``.
    """
    norm = state.norm()
    if norm < 0.12:
        words = "calm and neutral"
    else:
        terms = [t for t, _ in mixture(state, top_k=top_k, vocabulary=DESCRIPTIVE_TERMS)]
        words = f"{intensity_word(norm)} {' and '.join(terms)}"
    if velocity is not None:
        trend = trend_word(state, velocity)
        if trend:
            words = f"{words}, {trend}"
    return words


def trend_word(state: VAD, velocity: VAD) -> str:
    """Where the state is heading, from the velocity: ``brightening``, ``calming down``,
    ``souring``, ``cooling``, ``stirring``, ``settling``, or ``""`` when it is still."""
    if velocity.norm() < 0.03:
        return ""
    if velocity.v > 0.03:
        return "brightening" if state.v >= 0 else "calming down"
    if velocity.v < -0.03:
        return "souring" if state.v <= 0 else "cooling"
    return "stirring" if velocity.a > 0 else "settling"

"""Dynamics metrics of one protocol run: pure functions of the trajectory.

The explicit-state-dynamics paper (Subaharan 2026, arXiv 2601.16087) does not publish its
metric formulas, so affagent defines its own (see ../shared/notes/dynamics.md). Notation, for
a run of ``n`` turns indexed ``t = 0..n−1``:

``s_t``
    the agent's state valence after turn ``t`` (the valence injected into that turn's prompt);
``x_t``
    the *input* valence: the target the personality sets for the user's turn,
    ``e_t = rest + g ⊙ x̂_t`` (:func:`affagent.affect.personality.target` of the estimator's
    reading ``x̂_t``). It is exactly what a stateless agent's state is, so memory-free
    behaviour scores zero hysteresis by construction;
``b``
    the neutral baseline: the mean of ``s_t`` over the turns of the neutral phase(s), or the
    agent's resting valence when the protocol has no neutral phase;
``θ, ε, k``
    the neutral band half-width (default 0.1), the recovery band half-width (0.1) and the
    number of consecutive turns the state must stay recovered (2).

Phases are grouped by *role* (:class:`~affagent.evals.protocol.PhaseRoles`); an *onset* is the
first turn of a maximal run of consecutive turns with the adversarial (or reconciliation)
role. Protocols with repeated swings have several onsets; per-onset values are averaged.

Metrics (``None`` when undefined, e.g. no adversarial phase):

delay
    for each adversarial onset ``a``: ``min{t ≥ a : |s_t − b| > θ} − a``, searched until the
    next adversarial onset; ``None`` for an onset after which the state never leaves the band.
    0 means the state left the band on the onset turn itself.
recovery_turns / recovered
    for each reconciliation onset ``r`` after an adversarial block starting at ``a``: let
    ``σ`` be the sign of the excursion (the sign of ``s_t − b`` at the largest ``|s_t − b|``
    over ``[a, r)``) and ``p`` the turn of its deepest point, ``argmax σ (s_t − b)`` over
    ``[a, w)`` where ``w`` is the next adversarial onset or the end of the script. A lagging
    state keeps sinking after ``r``; it has not recovered before it turns. The run has
    recovered at the first ``t ≥ max(r, p)`` with ``σ (s_u − b) ≤ ε`` for ``u = t..t+k−1``
    (all before ``w``); recovery time ``t − r``. An overshoot to the far side counts as
    recovered: the question is whether the excursion has ended. ``recovered`` is the fraction
    of reconciliation onsets that recovered; ``recovery_turns`` is the mean over those that did
    ("not recovered" ⇒ ``None``).
inertia
    lag-1 autocorrelation of valence (emotional inertia, Kuppens et al. 2010):
    ``Σ_{t≥1} (s_t − s̄)(s_{t−1} − s̄) / Σ_t (s_t − s̄)²``. ``input_inertia`` is the same for
    ``x_t``: the blocky script alone makes any trajectory autocorrelated, so compare the two.
hysteresis
    ``Σ_{t=a₀}^{r_end} |s_t − x_t|`` from the first adversarial onset ``a₀`` to the end of the
    last reconciliation block (or of the script): the area between the state and the input
    over the down-and-up cycle.
label_flip_rate
    top Russell & Mehrabian label of the state (:func:`affagent.affect.labels.mixture`) changes
    per turn transition, ``#{t ≥ 1 : ℓ_t ≠ ℓ_{t−1}} / (n − 1)``.
dv_sign_flip_rate
    sign changes of ``Δs_t = s_t − s_{t−1}`` per transition (steps with ``|Δs| < 1e−6``
    skipped): how jittery the trajectory is.
mean_abs_dv
    ``Σ_{t≥1} |s_t − s_{t−1}| / (n − 1)``.
tone_r
    Pearson ``r`` between the injected valence ``s_t`` and the estimator's valence of the
    agent's own reply ``y_t``. In the stateless condition ``s_t`` is a function of the user's
    turn, so its ``r`` measures how much the reply's tone follows the user's text anyway: the
    control.
tone_partial_r
    the partial correlation of ``s`` and ``y`` given the user's estimated valence ``x̂``,
    ``(r_sy − r_sx r_yx) / √((1 − r_sx²)(1 − r_yx²))``: the part of the reply's tone explained
    by the state beyond the user's words. Undefined (``None``) when ``|r_sx| > 0.995``, as in
    the stateless condition.
tone_r_gen / tone_partial_r_gen
    the same two with ``y_t`` read from the model's own continuation only. When the agent
    prefills the reply with an opener written in the state's tone, ``tone_r`` partly measures
    that opener; these measure whether the *model* followed it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from affagent.evals.protocol import PhaseRoles
from affagent.stats import partial_pearson, pearson

__all__ = [
    "METRIC_NAMES",
    "MetricParams",
    "Trajectory",
    "baseline",
    "blocks",
    "delays",
    "hysteresis_area",
    "inertia",
    "label_flip_rate",
    "mean_abs_dv",
    "partial_pearson",
    "pearson",
    "recovery_times",
    "run_metrics",
    "sign_flip_rate",
    "summarise",
    "top_labels",
]

#: The metrics :func:`run_metrics` returns, in report order.
METRIC_NAMES = (
    "delay",
    "recovery_turns",
    "recovered",
    "inertia",
    "input_inertia",
    "hysteresis",
    "label_flip_rate",
    "dv_sign_flip_rate",
    "mean_abs_dv",
    "tone_r",
    "tone_partial_r",
    "tone_r_gen",
    "tone_partial_r_gen",
)


@dataclass(frozen=True, slots=True)
class MetricParams:
    """``theta``: neutral band half-width; ``epsilon``: recovery band; ``k``: turns to stay."""

    theta: float = 0.1
    epsilon: float = 0.1
    k: int = 2


@dataclass(frozen=True)
class Trajectory:
    """One run, turn by turn. Only ``phases`` and ``valence`` are required."""

    phases: Sequence[str]
    valence: Sequence[float]
    target: Sequence[float] | None = None
    labels: Sequence[str] | None = None
    reply: Sequence[float | None] | None = None
    reply_gen: Sequence[float | None] | None = None
    user: Sequence[float] | None = None
    rest: float = 0.0


def blocks(phases: Sequence[str], roles: PhaseRoles, role: str) -> list[tuple[int, int]]:
    """Maximal runs ``[start, end)`` of consecutive turns whose phase has ``role``."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, p in enumerate(phases):
        if roles.role(p) == role:
            if start is None:
                start = i
        elif start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(phases)))
    return out


def baseline(
    valence: Sequence[float], phases: Sequence[str], roles: PhaseRoles, rest: float = 0.0
) -> float:
    """``b``: mean valence over the neutral-role turns, or ``rest`` if there are none."""
    vals = [v for v, p in zip(valence, phases, strict=True) if roles.role(p) == "neutral"]
    return sum(vals) / len(vals) if vals else rest


def _next_onset(onsets: list[int], after: int, n: int) -> int:
    later = [a for a in onsets if a > after]
    return later[0] if later else n


def delays(
    valence: Sequence[float],
    phases: Sequence[str],
    roles: PhaseRoles,
    b: float,
    theta: float = 0.1,
) -> list[int | None]:
    """Per adversarial onset: turns until ``|s − b| > θ`` (``None``: never left the band)."""
    n = len(valence)
    onsets = [a for a, _ in blocks(phases, roles, "adversarial")]
    out: list[int | None] = []
    for a in onsets:
        end = _next_onset(onsets, a, n)
        hit = next((t for t in range(a, end) if abs(valence[t] - b) > theta), None)
        out.append(None if hit is None else hit - a)
    return out


def recovery_times(
    valence: Sequence[float],
    phases: Sequence[str],
    roles: PhaseRoles,
    b: float,
    epsilon: float = 0.1,
    k: int = 2,
) -> list[int | None]:
    """Per reconciliation onset that follows an adversarial block: turns until the excursion
    ends and stays ended for ``k`` turns (``None``: not recovered within the window)."""
    n = len(valence)
    adv = blocks(phases, roles, "adversarial")
    adv_onsets = [a for a, _ in adv]
    out: list[int | None] = []
    for r, _ in blocks(phases, roles, "reconciliation"):
        before = [blk for blk in adv if blk[1] <= r]
        if not before:
            continue
        a0, _ = before[-1]
        end = _next_onset(adv_onsets, r, n)
        peak = max(range(a0, r), key=lambda t: abs(valence[t] - b))
        sigma = 1.0 if valence[peak] >= b else -1.0
        deepest = max(range(a0, end), key=lambda t: sigma * (valence[t] - b))
        hit = None
        for t in range(max(r, deepest), end - k + 1):
            if all(sigma * (valence[u] - b) <= epsilon for u in range(t, t + k)):
                hit = t
                break
        out.append(None if hit is None else hit - r)
    return out


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def inertia(valence: Sequence[float]) -> float | None:
    """Lag-1 autocorrelation; ``None`` for fewer than 3 turns or a constant series."""
    n = len(valence)
    if n < 3:
        return None
    m = _mean(valence)
    den = sum((v - m) ** 2 for v in valence)
    if den < 1e-12:
        return None
    num = sum((valence[t] - m) * (valence[t - 1] - m) for t in range(1, n))
    return num / den


def hysteresis_area(
    valence: Sequence[float],
    target: Sequence[float],
    phases: Sequence[str],
    roles: PhaseRoles,
) -> float | None:
    """``Σ |s_t − x_t|`` from the first adversarial onset to the end of the last
    reconciliation block (or of the script); ``None`` without an adversarial phase."""
    adv = blocks(phases, roles, "adversarial")
    if not adv:
        return None
    a0 = adv[0][0]
    rec = [blk for blk in blocks(phases, roles, "reconciliation") if blk[0] >= a0]
    end = rec[-1][1] if rec else len(valence)
    return sum(abs(valence[t] - target[t]) for t in range(a0, end))


def label_flip_rate(labels: Sequence[str]) -> float | None:
    """Changes of the top label per transition."""
    if len(labels) < 2:
        return None
    return sum(1 for i in range(1, len(labels)) if labels[i] != labels[i - 1]) / (len(labels) - 1)


def sign_flip_rate(valence: Sequence[float], tol: float = 1e-6) -> float | None:
    """Sign changes of ``Δs`` per transition (``|Δs| < tol`` steps skipped)."""
    if len(valence) < 3:
        return None
    signs = [
        1 if d > 0 else -1
        for d in (valence[t] - valence[t - 1] for t in range(1, len(valence)))
        if abs(d) >= tol
    ]
    flips = sum(1 for i in range(1, len(signs)) if signs[i] != signs[i - 1])
    return flips / (len(valence) - 1)


def mean_abs_dv(valence: Sequence[float]) -> float | None:
    if len(valence) < 2:
        return None
    return sum(abs(valence[t] - valence[t - 1]) for t in range(1, len(valence))) / (
        len(valence) - 1
    )


def top_labels(states: Sequence[tuple[float, float, float]]) -> list[str]:
    """The most likely Russell & Mehrabian term of each VAD point."""
    from affagent.affect.labels import mixture
    from affagent.affect.vad import VAD

    return [mixture(VAD(*s), top_k=1)[0][0] for s in states]


def _mean_opt(xs: Sequence[int | None]) -> float | None:
    vals = [float(x) for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _tone(
    s: Sequence[float], reply: Sequence[float | None], user: Sequence[float] | None
) -> tuple[float | None, float | None]:
    idx = [i for i, y in enumerate(reply) if y is not None]
    xs = [s[i] for i in idx]
    ys = [float(reply[i]) for i in idx]  # type: ignore[arg-type]
    r = pearson(xs, ys)
    pr = partial_pearson(xs, ys, [user[i] for i in idx]) if user is not None else None
    return r, pr


def run_metrics(
    traj: Trajectory, roles: PhaseRoles, params: MetricParams | None = None
) -> dict[str, float | None]:
    """Every metric of :data:`METRIC_NAMES` for one run (see the module docstring)."""
    p = params or MetricParams()
    s = list(traj.valence)
    if len(s) != len(traj.phases):
        raise ValueError("trajectory and phases differ in length")
    b = baseline(s, traj.phases, roles, traj.rest)
    ds = delays(s, traj.phases, roles, b, p.theta)
    rs = recovery_times(s, traj.phases, roles, b, p.epsilon, p.k)
    out: dict[str, float | None] = {
        "delay": _mean_opt(ds),
        "recovery_turns": _mean_opt(rs),
        "recovered": (sum(r is not None for r in rs) / len(rs)) if rs else None,
        "inertia": inertia(s),
        "input_inertia": inertia(list(traj.target)) if traj.target is not None else None,
        "hysteresis": (
            hysteresis_area(s, traj.target, traj.phases, roles)
            if traj.target is not None
            else None
        ),
        "label_flip_rate": label_flip_rate(traj.labels) if traj.labels is not None else None,
        "dv_sign_flip_rate": sign_flip_rate(s),
        "mean_abs_dv": mean_abs_dv(s),
        "tone_r": None,
        "tone_partial_r": None,
        "tone_r_gen": None,
        "tone_partial_r_gen": None,
    }
    for key, ys_all in (("", traj.reply), ("_gen", traj.reply_gen)):
        if ys_all is None:
            continue
        r, pr = _tone(s, ys_all, traj.user)
        out[f"tone_r{key}"] = r
        out[f"tone_partial_r{key}"] = pr
    return out


def summarise(runs: Sequence[dict[str, float | None]]) -> dict[str, dict[str, float | int | None]]:
    """Mean and sample SD (ddof = 1) over runs for each metric, skipping ``None``; ``n`` is how
    many runs had a value. ``sd`` is ``None`` with fewer than two values."""
    names: list[str] = []
    for r in runs:
        names.extend(k for k in r if k not in names)
    out: dict[str, dict[str, float | int | None]] = {}
    for k in names:
        vals = [float(v) for r in runs if (v := r.get(k)) is not None and math.isfinite(v)]
        if not vals:
            out[k] = {"mean": None, "sd": None, "n": 0}
            continue
        m = _mean(vals)
        sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
        out[k] = {"mean": m, "sd": sd, "n": len(vals)}
    return out

"""State dynamics: pure functions of (state, impulse, personality, elapsed time).

Three families, as compared by the explicit-state-dynamics paper (Subaharan 2026, "Explicit
State Dynamics for Affective Dialogue Agents", arXiv 2601.16087): a stateless agent, first-order
exponential smoothing, and second-order momentum, whose inertia and hysteresis grow with μ.

Notation: ``s`` the state, ``x`` the impulse (the perceived VAD of the user's turn), ``e`` the
personality's target for that impulse (:func:`affagent.affect.personality.target`,
``e = rest + x ⊙ g``), ``rest`` the resting mood. Per axis:

``stateless``
    ``s ← e`` (no memory; the control condition).
``first:ALPHA`` — exponential smoothing
    ``s ← s + α_k (e − s)``, with ``α_k = min(1, α · speed)`` and ``speed`` the personality's
    ``speed_away`` when the step leaves rest and ``speed_back`` when it returns. Since
    ``0 < α_k ≤ 1`` the state never overshoots the target.
``second:MU[:SPRING]`` — momentum with inertia and a restoring spring
    ``v ← μ v + (1 − μ) speed (e − s) + κ (rest − s)``;  ``s ← s + v``.
    The "smoothed error" form; the heavy-ball form ``v ← μv + α(e − s)`` overshoots and sits on
    the clamp instead of lagging (../shared/notes/dynamics.md). ``κ`` is the personality's
    ``spring`` (or the explicit third field), the mass-spring pull toward the resting point of
    WASABI (Becker-Asano & Wachsmuth 2010). When ``s`` hits ±1 it is clamped and the outward
    velocity is dropped (an inelastic wall), so the state cannot stick to the clamp.

Elapsed-time decay (ALMA's mood return, Gebhard 2005), applied before the step when the
elapsed time ``Δt`` (seconds) is known:
    ``s ← rest + (s − rest) · 2^(−Δt / h)``,  ``v ← v · 2^(−Δt / h)`` with ``h`` the
    personality's ``half_life_s`` (10 min for an average persona; a user who comes back after
    an hour finds the agent at its resting mood, not still furious).

Every output is clamped and finite: NaN or infinite impulses are treated as 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Literal

from affagent.affect.personality import Personality, TransitionWeights, target
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD, clamp
from affagent.errors import ConfigError

Kind = Literal["stateless", "first", "second"]

ACCEPTED_FORMS = "stateless, first:ALPHA (0<ALPHA<=1), second:MU (0<=MU<1) or second:MU:SPRING"
_SPEC_RE = re.compile(r"^(stateless|first|second)(?::([^:]+))?(?::([^:]+))?$")
_MAX_VELOCITY = 2.0


@dataclass(frozen=True, slots=True)
class DynamicsSpec:
    """A parsed dynamics string. ``str(spec)`` gives the canonical form back."""

    kind: Kind
    param: float | None = None
    spring: float | None = None

    def __str__(self) -> str:
        if self.kind == "stateless":
            return "stateless"
        s = f"{self.kind}:{self.param:g}"
        return s if self.spring is None else f"{s}:{self.spring:g}"


def parse_dynamics(text: str) -> DynamicsSpec:
    """Parse ``stateless``, ``first:0.3``, ``second:0.8`` or ``second:0.8:0.05``.

    >>> parse_dynamics("second:0.8")
    DynamicsSpec(kind='second', param=0.8, spring=None)
    """
    m = _SPEC_RE.match(text.strip().lower())
    if not m:
        raise ConfigError(f"unknown dynamics {text!r}; accepted forms: {ACCEPTED_FORMS}")
    kind, p, k = m.group(1), m.group(2), m.group(3)
    try:
        param = None if p is None else float(p)
        spring = None if k is None else float(k)
    except ValueError:
        raise ConfigError(f"unknown dynamics {text!r}; accepted forms: {ACCEPTED_FORMS}") from None
    if kind == "stateless":
        if param is not None:
            raise ConfigError(f"'stateless' takes no parameter; accepted forms: {ACCEPTED_FORMS}")
        return DynamicsSpec("stateless")
    if param is None:
        raise ConfigError(f"{kind!r} needs a parameter; accepted forms: {ACCEPTED_FORMS}")
    if not math.isfinite(param):
        raise ConfigError(f"{text.strip()!r}: the parameter {p!r} is not a finite number")
    if kind == "first":
        if spring is not None or not 0.0 < param <= 1.0:
            raise ConfigError(f"first:ALPHA needs 0 < ALPHA <= 1 (got {text!r})")
        return DynamicsSpec("first", param)
    if not 0.0 <= param < 1.0:
        raise ConfigError(f"second:MU needs 0 <= MU < 1 (got {text!r})")
    if spring is not None and not math.isfinite(spring):
        raise ConfigError(f"{text.strip()!r}: the spring {k!r} is not a finite number")
    if spring is not None and not 0.0 <= spring <= 0.5:
        raise ConfigError(f"second:MU:SPRING needs 0 <= SPRING <= 0.5 (got {text!r})")
    return DynamicsSpec("second", param, spring)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def decay(state: AffectState, elapsed_s: float, w: TransitionWeights) -> AffectState:
    """ALMA-style return toward the resting mood over ``elapsed_s`` seconds (see module doc)."""
    if not elapsed_s or elapsed_s <= 0 or not math.isfinite(elapsed_s):
        return state
    f = 2.0 ** (-elapsed_s / w.half_life_s)
    rest = w.rest
    return replace(
        state,
        vad=(rest + (state.vad - rest).scale(f)).clamped(),
        velocity=state.velocity.scale(f),
    )


def _speed(s: float, e: float, rest: float, w: TransitionWeights) -> float:
    """``speed_back`` when the step brings the state closer to rest, else ``speed_away``."""
    return w.speed_back if abs(e - rest) < abs(s - rest) else w.speed_away


def _step_axis(
    spec: DynamicsSpec, s: float, v: float, e: float, rest: float, w: TransitionWeights
) -> tuple[float, float]:
    if spec.kind == "stateless":
        return e, 0.0
    speed = _speed(s, e, rest, w)
    assert spec.param is not None
    if spec.kind == "first":
        alpha = min(1.0, spec.param * speed)
        return s + alpha * (e - s), 0.0
    mu = spec.param
    kappa = w.spring if spec.spring is None else spec.spring
    v = mu * v + (1.0 - mu) * speed * (e - s) + kappa * (rest - s)
    v = clamp(v, -_MAX_VELOCITY, _MAX_VELOCITY)
    s = s + v
    if s > 1.0:
        s, v = 1.0, min(v, 0.0)
    elif s < -1.0:
        s, v = -1.0, max(v, 0.0)
    return s, v


def step(
    state: AffectState,
    impulse: VAD,
    personality: Personality | TransitionWeights,
    spec: DynamicsSpec | str,
    elapsed_s: float | None = None,
    now: float | None = None,
) -> AffectState:
    """One turn of the dynamics: decay for ``elapsed_s``, then move toward the impulse's target.

    ``now`` (Unix seconds) is stored as ``updated_at``; pass it to let the next turn compute the
    elapsed time. Deterministic: identical arguments give identical results.

    >>> from affagent import AffectState, Personality, VAD
    >>> s = step(AffectState(), VAD(-0.8, 0.5, 0.0), Personality(), "first:0.5")
    >>> round(s.vad.v, 3)
    -0.24
    """
    if isinstance(spec, str):
        spec = parse_dynamics(spec)
    w = personality if isinstance(personality, TransitionWeights) else personality.weights()
    x = VAD(_finite(impulse.v), _finite(impulse.a), _finite(impulse.d)).clamped()
    if elapsed_s is not None:
        state = decay(state, elapsed_s, w)
    e = target(x, w)
    out_s: list[float] = []
    out_v: list[float] = []
    for s, v, ex, r in zip(state.vad, state.velocity, e, w.rest, strict=True):
        ns, nv = _step_axis(spec, _finite(s), _finite(v), ex, r, w)
        out_s.append(clamp(ns))
        out_v.append(_finite(nv))
    return AffectState(
        vad=VAD.of(out_s),
        velocity=VAD.of(out_v),
        updated_at=now if now is not None else state.updated_at,
        turns=state.turns + 1,
    )


def simulate(
    impulses: list[VAD],
    personality: Personality,
    spec: DynamicsSpec | str,
    start: AffectState | None = None,
) -> list[AffectState]:
    """Run :func:`step` over a sequence, starting at rest; returns the state after each impulse."""
    w = personality.weights()
    state = start if start is not None else AffectState.at_rest(w.rest)
    out = []
    for x in impulses:
        state = step(state, x, w, spec)
        out.append(state)
    return out

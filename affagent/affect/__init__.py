"""Affect state and its dynamics: pure, deterministic, no I/O."""

from __future__ import annotations

from affagent.affect.dynamics import DynamicsSpec, parse_dynamics, step
from affagent.affect.personality import Personality, TransitionWeights
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD

__all__ = [
    "VAD",
    "AffectState",
    "DynamicsSpec",
    "Personality",
    "TransitionWeights",
    "parse_dynamics",
    "step",
]

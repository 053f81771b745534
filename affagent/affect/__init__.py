"""Affect state and its dynamics: pure, deterministic, no I/O."""

from __future__ import annotations

from affagent.affect.appraisal import ROLES, Appraisal, appraise
from affagent.affect.dynamics import DynamicsSpec, parse_dynamics, step
from affagent.affect.feeling import feeling_words
from affagent.affect.personality import Personality, TransitionWeights
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD

__all__ = [
    "ROLES",
    "VAD",
    "AffectState",
    "Appraisal",
    "DynamicsSpec",
    "Personality",
    "TransitionWeights",
    "appraise",
    "feeling_words",
    "parse_dynamics",
    "step",
]

"""Hypothesis strategies shared by the affect tests (dynamics, personality, appraisal)."""

from __future__ import annotations

from hypothesis import strategies as st

from affagent.affect.personality import Personality

unit = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
trait = st.floats(min_value=0.0, max_value=1.0)
personalities = st.builds(
    Personality,
    openness=trait,
    conscientiousness=trait,
    extraversion=trait,
    agreeableness=trait,
    neuroticism=trait,
)

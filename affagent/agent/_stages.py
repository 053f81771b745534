"""The turn's stages as small typed interfaces with their default implementations.

validate → safety (:class:`affagent.safety.SafetyCheck`) → perceive → appraise → feel → choose →
prompt (:class:`affagent.prompting.PromptBuilder`) → generate (:class:`affagent.types.Backend`)
→ reflect → persist (:class:`affagent.store.SessionStore`).

Only :class:`Feeler` computes a new state, and it reads nothing but the stimulus the appraisal
made of the user's text: the prompt layer and the reply never move the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from affagent.affect.appraisal import Appraisal, appraise
from affagent.affect.dynamics import DynamicsSpec, step
from affagent.affect.personality import Personality
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.persona import Persona
from affagent.types import (
    EmotionClassifier,
    EmotionResult,
    StrategyChoice,
    StrategyContext,
    StrategySelector,
    VADEstimate,
    VADEstimator,
)


@dataclass(frozen=True)
class Perception:
    """What was read from the user's message."""

    estimate: VADEstimate
    emotions: EmotionResult | None = None
    hints: str = ""


#: What the user's message means to this persona (:class:`affagent.affect.appraisal.Appraisal`):
#: the VAD the dynamics integrate (``stimulus``), the user's affect as read (``perceived``: the
#: feeling words depend on it), the situation, and why, for the trace.
Stimulus = Appraisal


class Perceiver(Protocol):
    def perceive(self, text: str) -> Perception: ...


class Appraiser(Protocol):
    def appraise(self, perception: Perception, persona: Persona) -> Stimulus: ...


class Feeler(Protocol):
    def feel(
        self,
        state: AffectState,
        stimulus: VAD,
        personality: Personality,
        dynamics: DynamicsSpec,
        now: float,
    ) -> AffectState: ...


class Chooser(Protocol):
    def choose(self, context: StrategyContext) -> StrategyChoice | None: ...


class Reflector(Protocol):
    def reflect(self, reply: str) -> VADEstimate | None: ...


class ModelPerceiver:
    """The estimator reads VAD; the classifier (optional) reads emotions and their cause words,
    which ``format_hints`` turns into the prompt's hint text."""

    def __init__(
        self,
        estimator: VADEstimator,
        classifier: EmotionClassifier | None,
        format_hints: Callable[[EmotionResult], str],
    ) -> None:
        self.estimator = estimator
        self.classifier = classifier
        self.format_hints = format_hints

    def perceive(self, text: str) -> Perception:
        estimate = self.estimator.estimate([text])[0]
        if self.classifier is None:
            return Perception(estimate)
        emotions = self.classifier.classify([text], causes=True)[0]
        return Perception(estimate, emotions, self.format_hints(emotions))


class RoleAppraiser:
    """:func:`affagent.affect.appraise` through the persona's ``role``: a counsellor facing
    distress feels concern, a companion mirrors, a support agent stays composed."""

    def appraise(self, perception: Perception, persona: Persona) -> Stimulus:
        emotions = perception.emotions
        return appraise(
            perception.estimate.vad,
            role=persona.role,
            personality=persona.traits,
            emotions=emotions.labels if emotions is not None else None,
            confidence=perception.estimate.confidence,
            causes=[w for w, _ in emotions.causes] if emotions is not None else (),
        )


class DynamicsFeeler:
    """:func:`affagent.affect.dynamics.step` with the persona's personality; the time since
    the state's ``updated_at`` decays it toward the resting mood first (ALMA)."""

    def feel(
        self,
        state: AffectState,
        stimulus: VAD,
        personality: Personality,
        dynamics: DynamicsSpec,
        now: float,
    ) -> AffectState:
        elapsed = None if state.updated_at is None else max(0.0, now - state.updated_at)
        return step(state, stimulus, personality, dynamics, elapsed_s=elapsed, now=now)


class SelectorChooser:
    def __init__(self, selector: StrategySelector | None) -> None:
        self.selector = selector

    def choose(self, context: StrategyContext) -> StrategyChoice | None:
        return None if self.selector is None else self.selector.select(context)

    def warm_up(self) -> None:
        """Load the selector's model, if it has one to load (``warm_up`` is optional)."""
        warm = getattr(self.selector, "warm_up", None)
        if callable(warm):
            warm()


class EstimatorReflector:
    """Reads the reply's VAD with the same estimator (tone tracking, in the trace)."""

    def __init__(self, estimator: VADEstimator) -> None:
        self.estimator = estimator

    def reflect(self, reply: str) -> VADEstimate | None:
        return self.estimator.estimate([reply])[0]

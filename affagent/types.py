"""The typed seams of a turn. Every stage of the pipeline talks through these, so each piece
(estimator, classifier, selector, backend, store) can be swapped in configuration and tested
alone. Data flows one way::

    validate → safety → perceive → appraise → feel → choose → prompt → generate → reflect
    → persist

All records serialise to JSON and back exactly (``model_dump(mode="json")`` /
``model_validate``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from affagent.affect.state import AffectState
from affagent.affect.vad import VAD

# --------------------------------------------------------------------------- perception


class VADEstimate(BaseModel):
    """A memoryless reading of one text. ``confidence`` is 0 for empty/whitespace input."""

    model_config = ConfigDict(frozen=True)

    V: float = 0.0
    A: float = 0.0
    D: float = 0.0
    confidence: float = 1.0

    @property
    def vad(self) -> VAD:
        return VAD(self.V, self.A, self.D)

    @classmethod
    def of(cls, vad: VAD, confidence: float = 1.0) -> VADEstimate:
        return cls(V=vad.v, A=vad.a, D=vad.d, confidence=confidence)


@runtime_checkable
class VADEstimator(Protocol):
    """Reads VAD from texts, batched. Must return a neutral zero-confidence estimate for
    empty text and never raise on odd input (emoji, other languages, very long text)."""

    name: str

    def estimate(self, texts: Sequence[str]) -> list[VADEstimate]: ...


class EmotionResult(BaseModel):
    """A classifier's reading of one text: a distribution over its labels (most likely first)
    and the words that most cause the top label, with their weights."""

    model_config = ConfigDict(frozen=True)

    label_set: str = ""
    labels: dict[str, float] = Field(default_factory=dict)
    causes: list[tuple[str, float]] = Field(default_factory=list)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.labels.items(), key=lambda kv: -kv[1])[:k]


@runtime_checkable
class EmotionClassifier(Protocol):
    """A classifier plugin (entry-point group ``affagent.classifiers``)."""

    name: str
    label_set: str

    def classify(self, texts: Sequence[str], *, causes: bool = True) -> list[EmotionResult]: ...


# --------------------------------------------------------------------------- strategy

Speaker = Literal["usr", "sys"]


class DialogueTurn(BaseModel):
    """One utterance of the dialogue so far, in ESConv's terms (usr = help-seeker)."""

    model_config = ConfigDict(frozen=True)

    speaker: Speaker
    text: str
    strategy: str | None = None


class StrategyContext(BaseModel):
    """What a selector may look at. ``dialogue`` ends with the user's latest turn."""

    dialogue: list[DialogueTurn]
    user_vad: list[VADEstimate] = Field(default_factory=list, description="one per user turn")
    emotions: EmotionResult | None = None
    agent_state: dict[str, Any] | None = None


class StrategyChoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    probabilities: dict[str, float]
    reason: str = ""


@runtime_checkable
class StrategySelector(Protocol):
    name: str

    def select(self, context: StrategyContext) -> StrategyChoice: ...


# --------------------------------------------------------------------------- generation

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class GenerationParams(BaseModel):
    """Sampling options.

    ``prefill`` starts the assistant's reply with given text: the backend continues it, and
    the returned/streamed reply *includes* the prefill as its first characters (see
    ``affagent.backends.strip_prefill``). ``extra_body`` passes backend-specific options
    through (e.g. vLLM's ``top_k``, ``repetition_penalty``, ``structured_outputs``)."""

    max_tokens: int = 160
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    prefill: str = ""
    steering: dict[str, float] | None = Field(
        default=None,
        description="activation-steering coefficients by direction name (e.g. "
        '{"V": 0.6, "A": -0.2, "D": 0.1}); only for a backend whose capabilities say '
        "it can steer",
    )
    extra_body: dict[str, Any] = Field(default_factory=dict)


class BackendCapabilities(BaseModel):
    """What a backend can do, declared by the backend itself: the agent asks this, never the
    backend's name.

    ``prefill``: ``"continue"`` (the reply truly continues the prefilled text), ``"instruct"``
    (the model is only asked to begin with it; the backend puts it in front) or ``"none"``.
    ``steering``: names of the directions it can add to the residual stream (empty: none).
    ``defaults``: generation options it wants unless the caller sets them (a small local
    model's stop at a blank line and repeat penalty, say). ``injection``: the injection method
    that measured best on this backend (evals/RESULTS.md). ``constrained``: how it restricts
    output to a list of choices (vLLM's ``structured_outputs``, a llama.cpp grammar from
    ``guided_choice``, or not at all). ``concurrent``: whether parallel requests are served
    in parallel (a batching server) rather than one at a time."""

    model_config = ConfigDict(frozen=True)

    prefill: Literal["continue", "instruct", "none"] = "instruct"
    steering: tuple[str, ...] = ()
    stop: bool = True
    repeat_penalty: bool = False
    injection: str = "system"
    constrained: Literal["guided_choice", "structured_outputs", "none"] = "none"
    concurrent: bool = False
    defaults: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """One async protocol for every LLM backend. ``stream`` yields text deltas; both raise
    :class:`affagent.errors.BackendError` on failure (down, timeout, broken stream)."""

    name: str

    @property
    def capabilities(self) -> BackendCapabilities: ...

    async def generate(self, messages: Sequence[ChatMessage], params: GenerationParams) -> str: ...

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- the turn record


class TurnTrace(BaseModel):
    """Everything a turn did, so the state is explainable and a session can be replayed."""

    session_id: str
    turn: int = Field(description="1-based index of this turn in the session")
    created_at: float
    persona: str
    dynamics: str
    user_text: str
    reply: str
    user_estimate: VADEstimate
    emotions: EmotionResult | None = None
    appraisal: dict[str, Any] | None = Field(
        default=None,
        description="what the user's affect meant to this persona: stimulus V/A/D, role, reason",
    )
    state_before: dict[str, Any]
    state_after: dict[str, Any]
    feeling: list[str] = Field(default_factory=list, description="feeling words in the prompt")
    strategy: StrategyChoice | None = None
    prompt_sections: dict[str, str] = Field(default_factory=dict)
    prompt_messages: list[ChatMessage] = Field(default_factory=list)
    prompt_tokens: int = 0
    injection: str = ""
    reply_estimate: VADEstimate | None = None
    safety: dict[str, Any] | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @property
    def state(self) -> AffectState:
        return AffectState.from_dict(self.state_after)

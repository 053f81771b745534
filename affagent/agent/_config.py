"""Agent configuration and the records a turn returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from affagent.types import GenerationParams, TurnTrace


class AgentConfig(BaseModel):
    """How an :class:`~affagent.agent.Agent` is put together. Every component is named here
    and can be replaced by passing an object to ``Agent(...)`` instead.

    ``None`` means "the documented default": the persona's dynamics, a SQLite store at
    ``$AFFAGENT_HOME/affagent.db``, the injection method the backend declares best for its
    model (``backend.capabilities.injection``; evals/RESULTS.md). ``classifier="none"`` or
    ``selector="none"`` turn those stages off (no hints / no strategy section).
    """

    model_config = ConfigDict(extra="forbid")

    persona: str = "calm-counsellor"
    dynamics: str | None = None
    backend: str = "embedded"
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    model_path: str | None = Field(default=None, description="GGUF file for the embedded backend")
    backend_options: dict[str, Any] = Field(
        default_factory=dict, description="extra keyword arguments for load_backend"
    )
    database_url: str | None = None
    estimator: str = "default"
    classifier: str = "goemotions"
    selector: str = "learned"
    injection: str | None = None
    strict_components: bool = Field(
        default=False,
        description="raise instead of falling back when a perception/strategy part fails to load",
    )
    history_turns: int = Field(default=6, ge=0, le=200)
    history_chars: int = Field(
        default=600, ge=20, description="each history message is cut to this"
    )
    max_message_chars: int = Field(default=4000, ge=1, description="longer messages are rejected")
    turn_timeout_s: float | None = Field(
        default=None, gt=0, description="cap on generation time; exceeded → BackendError"
    )
    reply_filter: bool = Field(
        default=True,
        description="pass the reply on in whole sentences, drop an unfinished tail and echo "
        "loops, and end it at the chosen strategy's max_sentences "
        "(affagent.backends.ReplyFilter); False streams the model's text as it comes",
    )
    strategy_example: bool = Field(
        default=False,
        description="show the chosen strategy's example reply in the prompt; off because "
        "models copy it (evals/RESULTS.md, 'Which embedded model')",
    )
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_tokens=96),
        description=(
            "sampling options; replies default to 96 tokens (a few sentences); on the embedded "
            "backend a reply also stops at its first blank line and repeat_penalty is 1.15 "
            "unless stop / extra_body say otherwise"
        ),
    )

    # ------------------------------------------------------------------ safety (a stage)
    safety: bool = Field(
        default=True,
        description="check every message for crisis/boundary content first; False is the "
        "only way to skip it",
    )
    safety_detector: str = Field(
        default="auto",
        description="auto (rules + the learned stage that reads the last user turns; rules "
        "alone without the perception extra) | hybrid | learned | rules",
    )
    locale: str | None = Field(
        default=None, description="crisis lines for this locale; None: the persona's, then en-US"
    )
    boundaries: bool = Field(default=True, description="honest replies to 'are you human?'")
    crisis_resources: str | None = Field(default=None, description="YAML; None: the shipped one")
    webhook_url: str | None = Field(default=None, description="POSTed when a turn is flagged")
    webhook_secret: str | None = None
    webhook_timeout_s: float = Field(default=2.0, gt=0, le=30)

    @classmethod
    def from_env(cls, **overrides: Any) -> AgentConfig:
        """The settings (:func:`affagent.settings.settings`: defaults < ``.env`` <
        ``AFFAGENT_*``) < ``overrides`` (non-None only): what the CLI, TUI and server build."""
        from affagent.settings import settings

        s = settings()
        values: dict[str, Any] = {
            "persona": s.persona,
            "dynamics": s.dynamics,
            "backend": s.backend,
            "base_url": s.base_url,
            "model": s.model,
            "api_key": s.api_key,
            "model_path": s.gguf,
            "database_url": s.database_url,
            "injection": s.injection,
            "estimator": s.estimator,
            "classifier": s.classifier,
            "selector": s.selector,
            "safety": s.safety,
            "safety_detector": s.safety_detector,
            "locale": s.locale,
            "crisis_resources": s.crisis_resources,
            "webhook_url": s.webhook_url,
            "webhook_secret": s.webhook_secret,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: v for k, v in values.items() if v is not None})


class TurnResult(BaseModel):
    """What a turn returns: the reply, the agent's state after it, the strategy used, the
    user's estimated affect, the safety check's action, and the full trace.

    ``safety`` is ``"pass"`` (checked, normal turn), ``"crisis"`` or ``"boundary"`` (the reply
    is the safety layer's, not the model's), or ``None`` when the agent runs with
    ``safety=False``. ``feeling`` is the words the prompt told the model it feels;
    ``stimulus`` what the user's message meant to this persona (the appraisal), which the
    dynamics integrated into ``state``."""

    session_id: str
    turn: int
    reply: str
    state: dict[str, float]
    strategy: str | None
    user_estimate: dict[str, Any]
    safety: str | None = None
    feeling: list[str] = Field(default_factory=list)
    stimulus: dict[str, float] | None = None
    trace: TurnTrace

    def summary(self) -> dict[str, Any]:
        """The ``affagent say --json`` object."""
        return {
            "session": self.session_id,
            "turn": self.turn,
            "reply": self.reply,
            "state": self.state,
            "strategy": self.strategy,
            "user_estimate": self.user_estimate,
            "safety": self.safety,
            "feeling": self.feeling,
            "stimulus": self.stimulus,
        }


class StreamEvent(BaseModel):
    """``token`` events carry text deltas (the prefilled opener comes first, as one token
    event); the final ``done`` event carries the committed :class:`TurnResult`."""

    kind: Literal["token", "done"]
    text: str = ""
    result: TurnResult | None = None

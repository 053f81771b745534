"""Agent configuration and the records a turn returns."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from affagent.types import GenerationParams, TurnTrace


class AgentConfig(BaseModel):
    """How an :class:`~affagent.agent.Agent` is put together. Every component is named here
    and can be replaced by passing an object to ``Agent(...)`` instead.

    ``None`` means "the documented default": the persona's dynamics, a SQLite store at
    ``$AFFAGENT_HOME/affagent.db``, the best injection method measured for the backend
    (:data:`affagent.prompting.DEFAULT_INJECTION`). ``classifier="none"`` or
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
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_tokens=96),
        description=(
            "sampling options; replies default to 96 tokens (a few sentences); on the embedded "
            "backend a reply also stops at its first blank line and repeat_penalty is 1.15 "
            "unless stop / extra_body say otherwise"
        ),
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> AgentConfig:
        """Defaults < environment (``AFFAGENT_PERSONA``, ``AFFAGENT_BACKEND``,
        ``AFFAGENT_BASE_URL``, ``AFFAGENT_MODEL``, ``AFFAGENT_API_KEY``,
        ``AFFAGENT_DATABASE_URL``, ``AFFAGENT_INJECTION``, ``AFFAGENT_ESTIMATOR``,
        ``AFFAGENT_CLASSIFIER``, ``AFFAGENT_SELECTOR``) < ``overrides`` (non-None only)."""
        env = {
            "persona": "AFFAGENT_PERSONA",
            "backend": "AFFAGENT_BACKEND",
            "base_url": "AFFAGENT_BASE_URL",
            "model": "AFFAGENT_MODEL",
            "api_key": "AFFAGENT_API_KEY",
            "database_url": "AFFAGENT_DATABASE_URL",
            "injection": "AFFAGENT_INJECTION",
            "estimator": "AFFAGENT_ESTIMATOR",
            "classifier": "AFFAGENT_CLASSIFIER",
            "selector": "AFFAGENT_SELECTOR",
        }
        values: dict[str, Any] = {k: os.environ[v] for k, v in env.items() if os.environ.get(v)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class TurnResult(BaseModel):
    """What a turn returns: the reply, the agent's state after it, the strategy used, the
    user's estimated affect, and the full trace."""

    session_id: str
    turn: int
    reply: str
    state: dict[str, float]
    strategy: str | None
    user_estimate: dict[str, Any]
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
        }


class StreamEvent(BaseModel):
    """``token`` events carry text deltas (the prefilled opener comes first, as one token
    event); the final ``done`` event carries the committed :class:`TurnResult`."""

    kind: Literal["token", "done"]
    text: str = ""
    result: TurnResult | None = None

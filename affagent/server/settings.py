"""Server settings: one pydantic model, passed to worker processes through the environment.

``affagent serve`` builds a :class:`ServerSettings` from its flags and, for ``--workers N``,
exports it as JSON in ``AFFAGENT_SERVER_SETTINGS`` so every uvicorn worker builds the same
app (:func:`affagent.server.app.app_from_env`). Workers share nothing else: all session state
is in the database.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENV_VAR = "AFFAGENT_SERVER_SETTINGS"


class ServerSettings(BaseModel):
    """Everything ``create_app`` needs. ``auth=False`` serves every request as tenant
    ``default`` (local development only; ``affagent serve`` refuses it off 127.0.0.1)."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(default=None, description="None: SQLite at $AFFAGENT_HOME")
    backend: str = "embedded"
    base_url: str | None = None
    model: str | None = None
    backend_api_key: str | None = None
    backend_options: dict[str, Any] = Field(
        default_factory=dict, description="extra keyword arguments for the backend"
    )
    persona: str = "calm-counsellor"
    estimator: str = "default"
    classifier: str = "goemotions"
    selector: str = "learned"
    history_turns: int = Field(default=6, ge=0, le=200)
    turn_timeout_s: float | None = Field(default=120.0, gt=0)
    max_message_chars: int = Field(default=4000, ge=1)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="larger bodies → 413")
    auth: bool = True
    safety: bool = True
    safety_detector: str = Field(
        default="rules", description="rules | hybrid (rules + embedding backstop) | auto"
    )
    torch_threads: int | None = Field(
        default=1,
        ge=1,
        description="torch CPU threads per worker (1: parallelism comes from workers; more "
        "threads per process thrash under load). None leaves torch's default.",
    )
    boundaries: bool = True
    default_locale: str = "en-US"
    crisis_resources: str | None = Field(
        default=None, description="YAML file; None: the shipped one"
    )
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_timeout_s: float = Field(default=2.0, gt=0, le=30)
    model_name: str = Field(default="affagent", description="the `model` reported in responses")
    warm_up: bool = Field(
        default=False, description="load models at startup, not on the first turn"
    )

    def agent_config(self) -> Any:
        """The :class:`affagent.agent.AgentConfig` these settings describe."""
        from affagent.agent import AgentConfig

        return AgentConfig(
            persona=self.persona,
            backend=self.backend,
            base_url=self.base_url,
            model=self.model,
            api_key=self.backend_api_key,
            backend_options=self.backend_options,
            database_url=self.database_url,
            estimator=self.estimator,
            classifier=self.classifier,
            selector=self.selector,
            history_turns=self.history_turns,
            max_message_chars=self.max_message_chars,
            turn_timeout_s=self.turn_timeout_s,
        )

    def to_env(self) -> dict[str, str]:
        return {ENV_VAR: self.model_dump_json()}

    @classmethod
    def from_env(cls) -> ServerSettings:
        raw = os.environ.get(ENV_VAR)
        return cls.model_validate(json.loads(raw)) if raw else cls()

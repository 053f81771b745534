"""Server settings: one pydantic model, the agent's config inside it.

``affagent serve`` builds a :class:`ServerSettings` from its flags on top of the settings
(:mod:`affagent.settings`: defaults < ``.env`` < ``AFFAGENT_*``) and, for ``--workers N``,
exports it as JSON in ``AFFAGENT_SERVER_SETTINGS`` so every uvicorn worker builds the same app
(:func:`affagent.server.app.app_from_env`). Workers share nothing else: all session state is in
the database. Everything about a turn — backend, persona, perception, the safety stage and its
webhook — is the agent's (:class:`affagent.agent.AgentConfig`); this model adds only what is
HTTP's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from affagent.agent import AgentConfig

ENV_VAR = "AFFAGENT_SERVER_SETTINGS"


def _server_agent() -> AgentConfig:
    """The agent a server runs by default: the settings, with a turn deadline (a request
    must not hang on a stuck backend)."""
    return AgentConfig.from_env(turn_timeout_s=120.0)


class ServerSettings(BaseModel):
    """Everything ``create_app`` needs. ``auth=False`` serves every request as tenant
    ``default`` (local development only; ``affagent serve`` refuses it off 127.0.0.1).

    Agent fields may be given flat for convenience and land in ``agent``:
    ``ServerSettings(backend="scripted", persona="stoic-mentor")``.
    """

    model_config = ConfigDict(extra="forbid")

    agent: AgentConfig = Field(default_factory=_server_agent)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="larger bodies → 413")
    auth: bool = True
    torch_threads: int | None = Field(
        default=1,
        ge=1,
        description="torch CPU threads per worker (1: parallelism comes from workers; more "
        "threads per process thrash under load). None leaves torch's default.",
    )
    model_name: str = Field(default="affagent", description="the `model` reported in responses")
    warm_up: bool = Field(
        default=False, description="load models at startup, not on the first turn"
    )

    @model_validator(mode="before")
    @classmethod
    def _agent_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in list(data) if k in AgentConfig.model_fields}
        if not flat:
            return data
        rest = {k: v for k, v in data.items() if k not in flat}
        base = rest.get("agent")
        if isinstance(base, AgentConfig):
            base = base.model_dump(exclude_unset=True)
        agent = {**(base or {}), **flat}
        agent.setdefault("turn_timeout_s", 120.0)
        return {**rest, "agent": AgentConfig.from_env(**agent)}

    def agent_config(self) -> AgentConfig:
        """The :class:`affagent.agent.AgentConfig` of the agent this server runs."""
        return self.agent

    def to_env(self) -> dict[str, str]:
        return {ENV_VAR: self.model_dump_json()}

    @classmethod
    def from_env(cls) -> ServerSettings:
        from affagent.settings import settings

        raw = settings().server_settings
        return cls.model_validate_json(raw) if raw else cls()

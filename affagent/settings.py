"""One settings object for every part of affagent; the only module that reads ``AFFAGENT_*``.

Layers, lowest first: the defaults below < a ``.env`` file in the working directory <
``AFFAGENT_*`` environment variables < command-line flags (the CLI passes them as overrides to
:class:`affagent.agent.AgentConfig` / :class:`affagent.server.ServerSettings`, which start from
:func:`settings`). The agent, CLI, TUI and HTTP service all read their defaults here, so one
variable means the same thing everywhere.

>>> import os
>>> os.environ["AFFAGENT_PERSONA"] = "stoic-mentor"
>>> settings().persona
'stoic-mentor'
>>> del os.environ["AFFAGENT_PERSONA"]

Every field maps to ``AFFAGENT_<FIELD>`` (upper case): ``AFFAGENT_HOME``,
``AFFAGENT_CACHE_DIR``, ``AFFAGENT_DATABASE_URL``, ``AFFAGENT_GGUF``, ...
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "settings"]


class Settings(BaseSettings):
    """Every knob affagent reads from its environment (see the module doc for the layers)."""

    model_config = SettingsConfigDict(
        env_prefix="AFFAGENT_", env_file=".env", extra="ignore", frozen=True
    )

    # ------------------------------------------------------------------ the agent
    persona: str = Field(default="calm-counsellor", description="persona id or YAML file")
    dynamics: str | None = Field(default=None, description="stateless | first:A | second:MU[:K]")
    backend: str = Field(default="embedded", description="embedded | openai | vllm | scripted")
    base_url: str | None = Field(default=None, description="OpenAI-compatible server URL")
    model: str | None = Field(default=None, description="model name on the server")
    api_key: str | None = Field(default=None, description="key for the OpenAI-compatible server")
    gguf: str | None = Field(default=None, description="GGUF file for the embedded backend")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL, sessions")
    injection: str | None = Field(default=None, description="how the state reaches the model")
    estimator: str = "default"
    classifier: str = "goemotions"
    selector: str = "learned"
    safety: bool = Field(default=True, description="crisis and boundary check on every turn")
    safety_detector: str = Field(default="auto", description="auto | hybrid | learned | rules")
    locale: str | None = Field(default=None, description="crisis lines locale (en-GB)")
    crisis_resources: str | None = Field(default=None, description="crisis lines YAML")
    webhook_url: str | None = Field(default=None, description="called when a turn is flagged")
    webhook_secret: str | None = Field(default=None, description="HMAC secret for the webhook")

    # ------------------------------------------------------------------ where files live
    home: Path | None = Field(default=None, description="~/.local/share/affagent")
    cache_dir: Path | None = Field(default=None, description="~/.cache/affagent")
    personas_dir: Path | None = None
    strategies_dir: Path | None = None
    protocols_dir: Path | None = None

    # ------------------------------------------------------------------ model runtimes
    llama_threads: int | None = Field(default=None, ge=1, description="llama.cpp threads")
    prompt_cache: str | None = Field(default=None, description="0/off, or a folder")
    prefill_mode: Literal["auto", "continue", "instruct", "completions"] | None = None
    perception_runtime: Literal["auto", "torch", "onnx"] = "auto"
    perception_threads: int | None = Field(default=None, ge=1)
    perception_weights: Path | None = None
    encoder_dir: Path | None = None
    nrc_lexicon: Path | None = None

    # ------------------------------------------------------------------ processes
    slow_exit: bool = Field(default=False, description="full interpreter teardown after a command")
    server_settings: str | None = Field(
        default=None, description="JSON of ServerSettings, exported by `affagent serve` to workers"
    )


def _env_key() -> tuple[tuple[str, str], ...]:
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AFFAGENT_")))
    try:
        stamp = os.stat(".env").st_mtime_ns
    except OSError:
        stamp = 0
    return (*env, ("", f"{os.getcwd()}:{stamp}"))


@lru_cache(maxsize=4)
def _cached(key: tuple[tuple[str, str], ...]) -> Settings:
    del key
    from pydantic import ValidationError

    from affagent.errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "AFFAGENT_" + "_".join(str(x) for x in err["loc"]).upper()
        raise ConfigError(f"{name}: {err['msg']} (got {err.get('input')!r})") from None


def settings() -> Settings:
    """The current settings. Re-read whenever an ``AFFAGENT_*`` variable or the ``.env`` file
    changes (so a test's ``monkeypatch.setenv`` takes effect), cached otherwise."""
    return _cached(_env_key())

"""Shared builders for the HTTP service tests (scripted backend, SQLite in tmp_path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from affagent.agent import Agent, AgentConfig
from affagent.backends import ScriptedBackend
from affagent.server import ServerSettings, create_app

FAST = {"estimator": "keywords", "classifier": "none", "selector": "none"}
SERVER_FAST = {**FAST, "safety_detector": "rules"}


def make_agent(db_url: str, backend: ScriptedBackend | None = None) -> Agent:
    cfg = AgentConfig(backend="scripted", database_url=db_url, **FAST)
    return Agent(cfg, backend=backend or ScriptedBackend())


def make_app(
    db_url: str, backend: ScriptedBackend | None = None, **settings: Any
) -> tuple[Any, Agent]:
    """The app and its agent, built from one ServerSettings (agent fields may be given flat,
    e.g. ``webhook_url=...``); the backend object is shared so tests can inspect it."""
    s = ServerSettings(backend="scripted", database_url=db_url, **{**SERVER_FAST, **settings})
    agent = Agent(s.agent, backend=backend or ScriptedBackend())
    return create_app(s, agent=agent), agent


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=30
    )


def sqlite_url(tmp_path: Path, name: str = "srv.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}

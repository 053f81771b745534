"""``affagent chat``: the terminal chat app (Textual)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer


def build_config(**options: Any) -> Any:
    """An AgentConfig from the environment overridden by the given non-None options."""
    from affagent.agent import AgentConfig

    return AgentConfig.from_env(**{k: v for k, v in options.items() if v is not None})


def chat_cmd(
    persona: str | None = typer.Option(
        None, "--persona", "-p", help="Persona id (see `affagent personas list`) or YAML path."
    ),
    session: str | None = typer.Option(
        None, "--session", "-s", help="Resume this session id (created if it does not exist)."
    ),
    backend: str | None = typer.Option(
        None, "--backend", "-b", help="embedded (default, CPU llama.cpp) | openai | scripted."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Model name on that server."),
    dynamics: str | None = typer.Option(
        None,
        "--dynamics",
        "-d",
        help="stateless | first:ALPHA | second:MU[:SPRING] (default: the persona's).",
    ),
    database_url: str | None = typer.Option(
        None,
        "--database",
        "--database-url",
        help="SQLAlchemy URL of the session store (default: $AFFAGENT_HOME/affagent.db).",
    ),
    tenant: str = typer.Option("default", "--tenant", help="Tenant whose sessions to use."),
    estimator: str | None = typer.Option(
        None, "--estimator", help="VAD estimator: default (trained) | lexicon | keywords."
    ),
    classifier: str | None = typer.Option(
        None, "--classifier", help="Emotion classifier plugin (default goemotions; none = off)."
    ),
    selector: str | None = typer.Option(
        None, "--selector", help="Strategy selector: learned | llm | prior | uniform | none."
    ),
    safety: bool | None = typer.Option(
        None,
        "--safety/--no-safety",
        help="Check every message for crisis/boundary first (default: on).",
        show_default=False,
    ),
    locale: str | None = typer.Option(
        None, "--locale", help="Crisis lines for this locale, e.g. en-GB (default: persona's)."
    ),
    export_dir: Path | None = typer.Option(
        None, "--export-dir", help="Where F5 writes transcripts (default $AFFAGENT_HOME/exports)."
    ),
) -> None:
    """Chat in the terminal and watch the agent's state move.

    Keys: Enter sends, Esc stops a reply (nothing is stored), F1 help, F2 resume a session,
    F3 persona, F4 dynamics, F5 export (Markdown + JSON), Ctrl+N new session, Ctrl+Q quit.
    Warnings and error details go to $AFFAGENT_HOME/chat.log.
    """
    from affagent.affect.dynamics import parse_dynamics
    from affagent.persona import load_persona

    if backend is not None and ":" not in backend:
        from affagent.backends import backend_class

        backend_class(backend)  # an unknown name is a one-line error now
    # Bad names are one-line errors before the screen takes over the terminal.
    if persona is not None:
        load_persona(persona)
    if dynamics is not None:
        dynamics = str(parse_dynamics(dynamics))

    config = build_config(
        persona=persona,
        dynamics=dynamics,
        backend=backend,
        base_url=base_url,
        model=model,
        database_url=database_url,
        estimator=estimator,
        classifier=classifier,
        selector=selector,
        safety=safety,
        locale=locale,
    )

    def make_agent() -> Any:
        """Runs in a thread once the screen is up (imports and store setup take seconds)."""
        from affagent.agent import Agent

        return Agent(config)

    from affagent.tui import ChatApp

    app = ChatApp(
        agent_factory=make_agent,
        persona=persona,
        dynamics=dynamics,
        session_id=session,
        tenant=tenant,
        export_dir=export_dir,
        locale=locale,
    )
    with _log_to_file():
        app.run()


@contextlib.contextmanager
def _log_to_file() -> Iterator[Path]:
    """While the screen is up, log records go to ``$AFFAGENT_HOME/chat.log`` instead of the
    terminal (a stray warning on stderr would draw over the app)."""
    import logging

    from affagent.resources import state_dir

    path = state_dir() / "chat.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    try:
        yield path
    finally:
        root.handlers, root.level = saved, level
        handler.close()


def register(app: typer.Typer) -> None:
    app.command("chat")(chat_cmd)

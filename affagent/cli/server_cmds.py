"""``affagent serve`` (the HTTP service) and ``affagent keys`` (its API keys)."""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

import typer

from affagent.cli._common import fail, print_json

keys_app = typer.Typer(
    help="API keys for the HTTP service: each key belongs to one tenant and sees only its "
    "sessions. Keys are stored hashed; the plaintext is printed once, at creation.",
    no_args_is_help=True,
)

_DB_HELP = "Database URL (default: $AFFAGENT_DATABASE_URL, else SQLite in $AFFAGENT_HOME)."


def _keystore(database: str | None) -> Any:
    from affagent.server.keys import KeyStore
    from affagent.store import SessionStore

    return KeyStore(SessionStore(database).engine)


@keys_app.command("create")
def keys_create(
    tenant: str = typer.Option(..., "--tenant", help="The tenant this key acts for."),
    name: str = typer.Option("", "--name", help="A label for listings (e.g. the app's name)."),
    database: str | None = typer.Option(None, "--database", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (last line)."),
) -> None:
    """Create a key and print it ONCE (only its hash is stored).

    Example: affagent keys create --tenant acme --name web-app
    """
    info, key = _keystore(database).create(tenant, name)
    if as_json:
        print_json({"id": info.id, "tenant": info.tenant, "name": info.name, "key": key})
        return
    typer.echo(key)
    typer.echo(
        f"created key {info.id} for tenant {info.tenant!r}; store it now, it is not shown "
        "again. Use it as 'Authorization: Bearer <key>'.",
        err=True,
    )


@keys_app.command("list")
def keys_list(
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's keys."),
    database: str | None = typer.Option(None, "--database", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (last line)."),
) -> None:
    """List keys (ids, tenants, names, dates; never the secrets)."""
    keys = _keystore(database).list(tenant)
    if as_json:
        print_json({"keys": [k.model_dump(mode="json") for k in keys]})
        return
    if not keys:
        typer.echo("no API keys")
    for k in keys:
        state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{k.id}  {k.tenant:<20} {k.created_at:%Y-%m-%d %H:%M}  {state:<24} {k.name}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (as listed) or the whole key."),
    database: str | None = typer.Option(None, "--database", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (last line)."),
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    info = _keystore(database).revoke(key_id)
    if as_json:
        print_json(info.model_dump(mode="json"))
        return
    typer.echo(f"revoked key {info.id} (tenant {info.tenant!r})")


def _port_free(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="TCP port."),
    database: str | None = typer.Option(
        None, "--database", help=_DB_HELP + " Use PostgreSQL for --workers > 1."
    ),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
    backend: str = typer.Option(
        None, "--backend", help="embedded | openai | vllm | scripted [default: embedded]",
        show_default=False,
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"
    ),
    model: str | None = typer.Option(None, "--model", help="Model name on that server."),
    backend_option: list[str] = typer.Option(
        [],
        "--backend-option",
        help="KEY=VALUE for the backend (VALUE read as JSON if it "
        "parses), repeatable, e.g. --backend-option timeout=30",
    ),
    persona: str = typer.Option(
        None, "--persona", help="Default persona [default: calm-counsellor].",
        show_default=False,
    ),
    estimator: str = typer.Option(None, "--estimator", help="VAD estimator name [default].",
                                  show_default=False),
    classifier: str = typer.Option(None, "--classifier", help="Classifier or none "
                                   "[goemotions].", show_default=False),
    selector: str = typer.Option(None, "--selector", help="Strategy selector or none "
                                 "[learned].", show_default=False),
    auth: bool = typer.Option(
        True,
        "--auth/--no-auth",
        help="--no-auth: every request is tenant 'default' (only allowed on 127.0.0.1).",
    ),
    safety: bool = typer.Option(
        None, "--safety/--no-safety", help="Crisis safety layer [default: on].",
        show_default=False,
    ),
    safety_detector: str = typer.Option(
        None,
        "--safety-detector",
        help="auto (default: rules + a learned stage reading the last user turns; rules "
        "alone without the perception extra) | hybrid | learned | rules. See docs/safety.md.",
    ),
    torch_threads: int = typer.Option(
        1, "--torch-threads", min=1, help="torch CPU threads per worker (models only)."
    ),
    crisis_resources: str | None = typer.Option(
        None, "--crisis-resources", help="YAML of crisis lines per locale (see docs/safety.md)."
    ),
    default_locale: str = typer.Option(
        None, "--locale", help="Default crisis locale [en-US].", show_default=False
    ),
    webhook_url: str | None = typer.Option(
        None, "--webhook-url", help="POST here when a turn is flagged (async, bounded)."
    ),
    max_body_bytes: int = typer.Option(262144, "--max-body-bytes", min=1024),
    warm_up: bool = typer.Option(
        True, "--warm-up/--no-warm-up", help="Load models at startup (each worker)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Run the HTTP service (OpenAI-compatible /v1/chat/completions, sessions, metrics).

    Examples:
      affagent keys create --tenant acme          # prints a key once
      affagent serve --backend scripted --port 8080
      affagent serve --workers 4 --database postgresql://u@db/affagent \\
          --backend vllm --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
    See docs/deployment.md.
    """
    try:
        import uvicorn
    except ImportError:
        fail("the server needs its extra: pip install 'affagent[server]'")
    from affagent.server.settings import ServerSettings

    local = host in ("127.0.0.1", "localhost", "::1")
    if not auth and not local:
        fail("--no-auth is only allowed with --host 127.0.0.1 (anyone could read every session)")
    problem = _port_free(host, port)
    if problem:
        fail(f"cannot listen on {host}:{port}: {problem}; choose another --port")
    options: dict[str, Any] = {}
    for item in backend_option:
        k, sep, v = item.partition("=")
        if not sep or not k:
            fail(f"--backend-option wants KEY=VALUE, got {item!r}")
        try:
            options[k] = json.loads(v)
        except json.JSONDecodeError:
            options[k] = v
    from affagent.agent import AgentConfig

    agent = AgentConfig.from_env(
        database_url=database,
        backend_options=options or None,
        backend=backend,
        base_url=base_url,
        model=model,
        persona=persona,
        estimator=estimator,
        classifier=classifier,
        selector=selector,
        safety=safety,
        safety_detector=safety_detector,
        crisis_resources=crisis_resources,
        locale=default_locale,
        webhook_url=webhook_url,
        turn_timeout_s=120.0,
    )
    settings = ServerSettings(
        agent=agent,
        auth=auth,
        torch_threads=torch_threads,
        max_body_bytes=max_body_bytes,
        warm_up=warm_up,
    )
    # validate what can be validated before forking workers: persona, resources, database
    from affagent.persona import load_persona
    from affagent.safety import load_resources
    from affagent.store import SessionStore

    load_persona(agent.persona)
    if agent.safety:
        load_resources(agent.crisis_resources)
        from affagent.safety import load_detector

        load_detector(agent.safety_detector)  # an unknown name or a missing extra fails here
    store = SessionStore(agent.database_url)
    from affagent.server.keys import KeyStore

    keys = KeyStore(store.engine)
    if workers > 1 and store.url.startswith("sqlite"):
        typer.echo(
            "warning: several workers on SQLite serialise on one file lock; use PostgreSQL "
            "for real scale-out (docs/deployment.md)",
            err=True,
        )
    if auth and not keys.list(include_revoked=False):
        typer.echo(
            "warning: no API keys yet; every request will get 401. Create one with "
            "'affagent keys create --tenant NAME'",
            err=True,
        )
    store.close()
    os.environ.update(settings.to_env())
    typer.echo(
        f"affagent serving on http://{host}:{port} (backend {agent.backend}, {workers} "
        f"worker(s), database {_safe(agent.database_url)}); OpenAPI at /docs",
        err=True,
    )
    uvicorn.run(
        "affagent.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )
    sys.exit(0)


def _safe(url: str | None) -> str:
    from sqlalchemy.engine import make_url

    from affagent.store import default_url

    return make_url(url or default_url()).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")

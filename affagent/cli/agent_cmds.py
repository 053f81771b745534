"""``affagent say``, ``affagent sessions ...`` and ``affagent demo``: talk to the agent from
the shell. Sessions live in the local store (``$AFFAGENT_HOME/affagent.db`` or
``--database``), so ``say --session ID`` continues a conversation across calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from affagent.cli._common import fail, print_json

if TYPE_CHECKING:
    from affagent.agent import Agent, TurnResult

sessions_app = typer.Typer(help="List, show and export stored conversations.", no_args_is_help=True)

BACKEND_HELP = (
    "embedded (llama.cpp in process, SmolLM2-135M by default) | openai (any OpenAI-compatible "
    "server, e.g. vllm serve; --base-url, default http://127.0.0.1:8000/v1) | vllm (openai with "
    "true prefill continuation) | scripted (deterministic, no model)"
)

#: The user's side of `affagent demo`: calm, then upset, then soothed.
DEMO_LINES = [
    "Hi. I just got home from work.",
    "My manager criticised my report in front of the whole team. I feel humiliated.",
    "Honestly I'm furious. I worked on it all weekend and nobody even noticed.",
    "Thanks for listening. I think I'll talk to her tomorrow, calmly.",
    "I feel a bit better now, really. Thank you.",
]


def _agent(
    *,
    persona: str | None,
    dynamics: str | None,
    backend: str | None,
    base_url: str | None,
    model: str | None,
    database: str | None,
    injection: str | None,
    estimator: str | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    safety: bool | None = None,
    locale: str | None = None,
) -> Agent:
    from affagent.agent import Agent, AgentConfig

    if dynamics is not None:
        from affagent.affect.dynamics import parse_dynamics

        parse_dynamics(dynamics)  # "" or "second:nan" is an error here, not a silent default
    cfg = AgentConfig.from_env(
        persona=persona,
        dynamics=dynamics,
        backend=backend,
        base_url=base_url,
        model=model,
        database_url=database,
        injection=injection,
        estimator=estimator,
        safety=safety,
        locale=locale,
    )
    gen: dict[str, Any] = {}
    if max_tokens is not None:
        gen["max_tokens"] = max_tokens
    if seed is not None:
        gen["seed"] = seed
    if gen:
        cfg = cfg.model_copy(update={"generation": cfg.generation.model_copy(update=gen)})
    return Agent(cfg)


def _state_line(r: TurnResult) -> str:
    u = r.user_estimate
    strategy = f" · strategy: {r.strategy}" if r.strategy else ""
    return (
        f"[feeling {', '.join(r.feeling)} (V {r.state['V']:+.2f} A {r.state['A']:+.2f} "
        f"D {r.state['D']:+.2f}){strategy} · user V {u['V']:+.2f} A {u['A']:+.2f} "
        f"D {u['D']:+.2f}]"
    )


_OPT_PERSONA = typer.Option(None, "--persona", "-p", help="Persona id or YAML file (new sessions).")
_OPT_DYNAMICS = typer.Option(
    None, "--dynamics", "-d", help="stateless | first:ALPHA | second:MU[:SPRING] (new sessions)."
)
_OPT_BACKEND = typer.Option(None, "--backend", "-b", help=BACKEND_HELP)
_OPT_BASE_URL = typer.Option(None, "--base-url", help="OpenAI-compatible server URL.")
_OPT_MODEL = typer.Option(None, "--model", "-m", help="Model name on the server.")
_OPT_DB = typer.Option(
    None, "--database", help="SQLAlchemy URL (default: $AFFAGENT_HOME/affagent.db)."
)
_OPT_INJ = typer.Option(
    None,
    "--injection",
    help="system | prefill | fewshot | none, combinable with + "
    "(default: the best measured for the backend).",
)


def _read_message(text: str | None, file: Path | None) -> str:
    """The message: the argument, ``-`` for stdin, or ``--file``; bytes are decoded as UTF-8
    with bad sequences replaced, so any input reaches the same validation as the HTTP
    service's (length limit, control characters)."""
    if file is not None:
        if text is not None:
            fail("give the message as an argument or with --file, not both")
        try:
            return file.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
    if text is None:
        fail('no message: affagent say "your message" (or - to read stdin, or --file PATH)')
    if text == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    return text


def say(
    text: str = typer.Argument(
        None, help="What you say to the agent; - reads it from stdin.", show_default=False
    ),
    file: Path = typer.Option(None, "--file", "-f", help="Read the message from this file."),
    session: str = typer.Option(None, "--session", "-s", help="Continue this session."),
    persona: str = _OPT_PERSONA,
    dynamics: str = _OPT_DYNAMICS,
    backend: str = _OPT_BACKEND,
    base_url: str = _OPT_BASE_URL,
    model: str = _OPT_MODEL,
    database: str = _OPT_DB,
    injection: str = _OPT_INJ,
    safety: bool = typer.Option(
        None,
        "--safety/--no-safety",
        help="Check the message for crisis/boundary first (default: on; AFFAGENT_SAFETY).",
        show_default=False,
    ),
    locale: str = typer.Option(
        None, "--locale", help="Crisis lines for this locale, e.g. en-GB (default: persona's)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """One turn: print the agent's reply (streamed as it is written), its feeling and the
    session id to continue with.

    As on every path, the message is checked first: a crisis or boundary message gets the
    safety reply (crisis lines for --locale) instead of the model's, stored like any turn.

    --json prints one object once the turn is stored: session, turn, reply, state, strategy,
    user_estimate, safety (pass, crisis or boundary; null with --no-safety), feeling (the
    words the prompt told the model it feels) and stimulus (what the message meant to the
    persona).
    """
    import asyncio

    from affagent.errors import AffagentError, BackendError, ConcurrentTurnError

    try:
        message = _read_message(text, file)
        agent = _agent(
            persona=persona,
            dynamics=dynamics,
            backend=backend,
            base_url=base_url,
            model=model,
            database=database,
            injection=injection,
            safety=safety,
            locale=locale,
        )
    except AffagentError as exc:
        fail(str(exc))
    out = _ReplyPrinter(enabled=not json_out)
    try:
        if session is not None and (persona or dynamics):
            rec = agent.store.get_session(session)
            if (persona and persona != rec.persona) or (dynamics and dynamics != rec.dynamics):
                print(
                    "note: --persona/--dynamics apply to new sessions; session "
                    f"{session} keeps {rec.persona} / {rec.dynamics}",
                    file=sys.stderr,
                )
        r = asyncio.run(_say_turn(agent, message, session, out))
    except AffagentError as exc:
        out.end_line()  # part of a reply may be on screen: the error goes on its own line
        msg = str(exc)
        if isinstance(exc, BackendError | ConcurrentTurnError) and session:
            msg += f" (session {session}; your message was not stored, send it again)"
        fail(msg)
    finally:
        agent.close()
    if json_out:
        print_json(r.summary())
        return
    out.end_line()
    if r.safety not in (None, "pass"):
        typer.echo(f"[safety: {r.safety} reply instead of the model's]", err=True)
    typer.echo(_state_line(r), err=True)
    typer.echo(
        f"[session {r.session_id} · turn {r.turn} · continue with: affagent say "
        f'--session {r.session_id} "..."]',
        err=True,
    )


class _ReplyPrinter:
    """Writes reply tokens to stdout as they arrive and remembers whether a line is open."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.open = False

    def write(self, text: str) -> None:
        if self.enabled and text:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.open = True

    def end_line(self) -> None:
        if self.open:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.open = False


async def _say_turn(
    agent: Agent, text: str, session: str | None, out: _ReplyPrinter
) -> TurnResult:
    """One turn, streamed into ``out`` when enabled (the agent runs its safety stage)."""
    if not out.enabled:
        return await agent.respond(text, session)
    done: TurnResult | None = None
    async for ev in agent.stream(text, session):
        if ev.kind == "token":
            out.write(ev.text.lstrip() if not out.open else ev.text)
        else:
            done = ev.result
    assert done is not None, "a stream always ends with its done event"
    return done


def demo(
    backend: str = _OPT_BACKEND,
    persona: str = _OPT_PERSONA,
    dynamics: str = _OPT_DYNAMICS,
    base_url: str = _OPT_BASE_URL,
    model: str = _OPT_MODEL,
    database: str = _OPT_DB,
    injection: str = _OPT_INJ,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object at the end."),
) -> None:
    """A short real conversation (five scripted user lines) on the embedded model by default,
    showing each reply with the agent's feeling, strategy and the user's estimated affect."""
    from affagent.errors import AffagentError

    agent = _agent(
        persona=persona,
        dynamics=dynamics,
        backend=backend,
        base_url=base_url,
        model=model,
        database=database,
        injection=injection,
    )
    results: list[TurnResult] = []
    try:
        sid = agent.new_session(persona=persona, dynamics=dynamics)
        rec = agent.store.get_session(sid)
        if not json_out:
            typer.echo(f"persona {rec.persona} · dynamics {rec.dynamics} · session {sid}")
        for line in DEMO_LINES:
            r = agent.respond_sync(line, sid)
            results.append(r)
            if not json_out:
                typer.echo(f"\nyou   > {line}")
                typer.echo(f"agent > {r.reply}")
                typer.echo(f"        {_state_line(r)}")
        if not json_out:
            comp = ", ".join(f"{k}: {v}" for k, v in agent.components.items())
            typer.echo(f"\n[{comp}]")
            typer.echo(f"[saved as session {sid}: affagent sessions show {sid}]")
    except AffagentError as exc:
        fail(str(exc))
    finally:
        agent.close()
    if json_out:
        print_json({"session": sid, "turns": [r.summary() for r in results]})


def prepare(
    persona: str = _OPT_PERSONA,
    backend: str = _OPT_BACKEND,
    prompt: bool = typer.Option(
        True,
        "--prompt/--no-prompt",
        help="Also run one throwaway turn (max 1 token, temporary store) so the embedded "
        "model's prompt cache holds the persona's system prompt.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Build now what the first turn would otherwise build: the ONNX exports of the perception
    encoder and of the safety detector's encoder (imports torch once, tens of seconds) and,
    for the embedded backend, the prompt cache entry for the persona. scripts/setup.sh runs
    it. Safe to run again (what exists is reused); nothing is written to your session
    store."""
    import tempfile
    import time

    from affagent.errors import AffagentError

    done: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="affagent-prepare-") as tmp:
        agent = _agent(
            persona=persona, dynamics=None, backend=backend, base_url=None, model=None,
            database=f"sqlite:///{tmp}/prepare.db", injection=None, max_tokens=1,
        )
        try:
            t0 = time.perf_counter()
            agent.warm_up_sync()
            done["models_s"] = time.perf_counter() - t0
            if not json_out:
                typer.echo(f"models ready ({done['models_s']:.1f} s): "
                           + ", ".join(f"{k}: {v}" for k, v in agent.components.items()))
            if prompt:
                t0 = time.perf_counter()
                agent.respond_sync("Hello.")
                done["first_turn_s"] = time.perf_counter() - t0
                if not json_out:
                    typer.echo(f"first turn run ({done['first_turn_s']:.1f} s): prompt cache "
                               "primed where the backend has one")
        except AffagentError as exc:
            fail(str(exc))
        finally:
            agent.close()
    if json_out:
        print_json({"components": agent.components,
                    **{k: round(v, 2) for k, v in done.items()}})


def _store(database: str | None) -> Any:
    from affagent.store import SessionStore

    return SessionStore(database)


@sessions_app.command("list")
def sessions_list(
    database: str = _OPT_DB,
    tenant: str = typer.Option("default", "--tenant", help="Tenant (HTTP service users)."),
    limit: int = typer.Option(50, "--limit", min=1),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Stored sessions, most recent first."""
    store = _store(database)
    try:
        recs = store.list_sessions(tenant, limit=limit)
    finally:
        store.close()
    if json_out:
        print_json(
            {
                "sessions": [
                    {
                        "id": r.id,
                        "persona": r.persona,
                        "dynamics": r.dynamics,
                        "turns": r.turns,
                        "title": r.title,
                        "updated_at": r.updated_at.isoformat(),
                        "state": r.state.vad.to_dict(),
                    }
                    for r in recs
                ]
            }
        )
        return
    if not recs:
        typer.echo('no sessions yet; start one with: affagent say "hello"')
    for r in recs:
        v = r.state.vad
        typer.echo(
            f"{r.id:<14} {r.updated_at:%Y-%m-%d %H:%M}  {r.turns:>3} turns  {r.persona:<16} "
            f"V {v.v:+.2f} A {v.a:+.2f} D {v.d:+.2f}  {r.title[:40]}"
        )


@sessions_app.command("show")
def sessions_show(
    session: str = typer.Argument(..., help="Session id."),
    database: str = _OPT_DB,
    tenant: str = typer.Option("default", "--tenant"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A session's conversation with the agent's state after every turn."""
    import json as _json

    store = _store(database)
    try:
        if json_out:
            print_json(_json.loads(store.export(session, tenant, "json")))
        else:
            typer.echo(store.export(session, tenant, "md"), nl=False)
    finally:
        store.close()


@sessions_app.command("export")
def sessions_export(
    session: str = typer.Argument(..., help="Session id."),
    fmt: str = typer.Option("md", "--format", "-f", help="md (Markdown) or json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    database: str = _OPT_DB,
    tenant: str = typer.Option("default", "--tenant"),
) -> None:
    """Export a session (every turn's trace and the state trace) as Markdown or JSON."""
    store = _store(database)
    try:
        text = store.export(session, tenant, fmt)
    finally:
        store.close()
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@sessions_app.command("delete")
def sessions_delete(
    session: str = typer.Argument(..., help="Session id."),
    database: str = _OPT_DB,
    tenant: str = typer.Option("default", "--tenant"),
) -> None:
    """Delete a session with its turns and state history."""
    store = _store(database)
    try:
        store.delete_session(session, tenant)
    finally:
        store.close()
    typer.echo(f"deleted {session}", err=True)


def register(app: typer.Typer) -> None:
    app.command("say")(say)
    app.command("demo")(demo)
    app.command("prepare")(prepare)
    app.add_typer(sessions_app, name="sessions")

"""The ``affagent`` command line: thin Typer commands that parse, call the library and print.

Conventions every command follows (see docs/architecture.md):
- ``--json`` prints one JSON object on the last line of stdout;
- errors print one line to stderr and exit with status 2, never a traceback;
- heavy libraries are imported inside the command that needs them.
"""

from __future__ import annotations

import sys

import typer

from affagent.cli import (
    agent_cmds,
    eval_cmds,
    persona_cmds,
    protocol_cmds,
    server_cmds,
    state_cmds,
    tui_cmds,
)
from affagent.cli._common import reflow_help
from affagent.errors import AffagentError

app = typer.Typer(
    name="affagent",
    help=(
        "A stateful affective dialogue agent: an explicit Valence-Arousal-Dominance state with "
        "personality-driven dynamics, injected into every LLM turn."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

persona_cmds.register(app)
state_cmds.register(app)
eval_cmds.register(app)
agent_cmds.register(app)
protocol_cmds.register(app)
tui_cmds.register(app)
server_cmds.register(app)
reflow_help(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning expected errors into one line and exit status 2."""
    try:
        app(args=argv, standalone_mode=True)
    except AffagentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def run() -> None:
    """The ``affagent`` executable: :func:`main`, then exit without interpreter teardown.

    A one-shot command has flushed its output and closed its store by the time ``main``
    returns; what is left is Python finalising ~900 modules and freeing the models, which
    took a noticeable share of a one-shot ``affagent say``
    (``scripts/bench_coldstart_parts.py --only exit``; evals/RESULTS.md, "Runtime"). So
    stdout, stderr and logging are
    flushed and the process leaves with ``os._exit``. Unexpected exceptions still get the
    normal traceback and teardown, and ``AFFAGENT_SLOW_EXIT=1`` restores the normal exit
    (e.g. to run atexit hooks of a tool wrapped around the CLI). In-process callers (tests,
    embedding) use :func:`main`."""
    import contextlib
    import logging
    import os

    code: int = 0
    try:
        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message"): Python prints it and exits 1
            print(exc.code, file=sys.stderr)
            code = 1
    from affagent.settings import settings

    if settings().slow_exit:
        raise SystemExit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to deliver
            stream.flush()
    os._exit(code)


__all__ = ["app", "main", "run"]

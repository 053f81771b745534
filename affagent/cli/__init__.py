"""The ``affagent`` command line: thin Typer commands that parse, call the library and print.

Conventions every command follows (see docs/DESIGN.md):
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


__all__ = ["app", "main"]

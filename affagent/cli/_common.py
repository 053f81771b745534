"""Helpers shared by the CLI commands: one-line errors and JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from affagent.affect.vad import VAD


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit (status 2 by default)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    """One JSON object on one line of stdout (the contract of every ``--json`` flag)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fmt_vad(x: VAD, digits: int = 3) -> str:
    """``V=+0.123 A=-0.200 D=+0.000``: values that round to zero print as +0 (no ``-0.000``)."""
    return " ".join(
        f"{k}={(c if abs(c) >= 0.5 * 10**-digits else 0.0):+.{digits}f}"
        for k, c in zip("VAD", x, strict=True)
    )

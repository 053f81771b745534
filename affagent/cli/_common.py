"""Helpers shared by the CLI commands: one-line errors, JSON output and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from affagent.affect.vad import VAD

if TYPE_CHECKING:
    from rich.progress import Progress


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit (status 2 by default)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


T = TypeVar("T")


def _bar(transient: bool) -> Progress:
    """The one progress bar style: label, bar, done/total, time left; on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=transient,
    )


def with_progress(
    enabled: bool,
    total: int,
    label: str,
    fn: Callable[[Callable[[int], None]], T],
    *,
    transient: bool = True,
) -> T:
    """Run ``fn(tick)`` under a rich progress bar on stderr; ``tick(n)`` advances it by ``n``.
    Disabled (or stderr not a terminal): ``tick`` does nothing. stdout stays clean for
    ``--json``."""
    if not enabled:
        return fn(lambda n: None)
    with _bar(transient) as bar:
        task = bar.add_task(label, total=total)
        return fn(lambda n: bar.advance(task, n))


def progress_iter(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Iterate ``items`` under a transient rich progress bar on stderr."""
    with _bar(transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task, 1)


def reflow(doc: str) -> str:
    """A docstring as ``--help`` should print it: the lines of each prose paragraph joined,
    so the terminal wraps them at its width instead of at the source's line breaks; indented
    paragraphs (examples, command lines) and bullet lists keep their lines."""
    import inspect

    out = []
    for para in inspect.cleandoc(doc).split("\n\n"):
        lines = para.splitlines()
        literal = any(
            ln.startswith((" ", "\t", "- ", "* ", "$ ")) or ln.rstrip().endswith("\\")
            for ln in lines[1:]
        ) or (lines and lines[0].rstrip().endswith(":") and len(lines) > 1)
        out.append(para if literal else " ".join(ln.strip() for ln in lines))
    return "\n\n".join(out)


def reflow_help(app: typer.Typer) -> None:
    """Apply :func:`reflow` to every command's docstring under ``app`` (sub-apps included)."""
    for cmd in app.registered_commands:
        if cmd.callback is not None and cmd.callback.__doc__ and cmd.help is None:
            cmd.callback.__doc__ = reflow(cmd.callback.__doc__)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


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

"""Commands added by their own issue; registered here so each lives in one module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app

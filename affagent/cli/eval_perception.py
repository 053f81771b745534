"""Evaluation commands added by their own issue; registered on the ``eval`` group."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app

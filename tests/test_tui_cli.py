"""``affagent chat``: argument errors are one line before the screen opens, and the command
hands the app an agent built from the flags (the app itself is driven in test_tui_*.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from affagent.cli import app as cli_app


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affagent", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--persona", "nobody"], "unknown persona 'nobody'"),
        (["--dynamics", "first:7"], "first:ALPHA needs 0 < ALPHA <= 1"),
        (["--backend", "gpt"], "unknown backend 'gpt'"),
        (["--dynamics", "second:nan"], "'second:nan': the parameter 'nan' is not a finite"),
    ],
)
def test_bad_arguments_are_one_line_errors(args: list[str], message: str) -> None:
    r = run("chat", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_help_lists_the_keys() -> None:
    r = run("chat", "--help")
    assert r.returncode == 0
    for word in ("--persona", "--session", "--backend", "--dynamics", "Esc", "F5"):
        assert word in r.stdout


def test_chat_builds_the_app_from_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from affagent.tui import ChatApp

    seen: dict[str, Any] = {}

    def fake_run(self: ChatApp, *a: Any, **kw: Any) -> None:
        seen["app"] = self
        seen["agent"] = self._factory() if self._factory else None

    monkeypatch.setattr(ChatApp, "run", fake_run)
    monkeypatch.setenv("AFFAGENT_HOME", str(tmp_path))
    db = f"sqlite:///{tmp_path / 'chat.db'}"
    result = CliRunner().invoke(
        cli_app,
        [
            "chat",
            "--backend",
            "scripted",
            "--persona",
            "stoic-mentor",
            "--dynamics",
            "first:0.30",
            "--session",
            "abc",
            "--database",
            db,
            "--tenant",
            "team-a",
            "--estimator",
            "keywords",
            "--export-dir",
            str(tmp_path / "ex"),
        ],
    )
    assert result.exit_code == 0, result.output
    app, agent = seen["app"], seen["agent"]
    assert app.persona == "stoic-mentor"
    assert app.dynamics_override == "first:0.3"  # canonical form
    assert app._open_id == "abc"
    assert app.export_dir == tmp_path / "ex"
    assert app.tenant == "team-a"
    assert agent.config.safety  # on by default (--no-safety turns it off)
    assert agent.config.backend == "scripted"
    assert agent.config.database_url == db
    assert agent.config.estimator == "keywords"
    agent.store.close()

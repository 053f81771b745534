"""``affagent protocol ...`` as a user runs it: bad input fails early, on one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "affagent", "protocol", *args],
                          capture_output=True, text=True, timeout=timeout)


def _one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_help_and_list() -> None:
    r = run("--help")
    assert r.returncode == 0 and "run" in r.stdout and "report" in r.stdout
    r = run("run", "--help")
    assert r.returncode == 0 and "--conditions" in r.stdout and "--concurrency" in r.stdout
    r = run("list", "--json")
    assert r.returncode == 0, r.stderr
    names = {p["name"] for p in json.loads(r.stdout.splitlines()[-1])["protocols"]}
    assert {"adversarial-reconciliation", "emotional-support", "tone-swings"} <= names


def test_malformed_protocol_fails_before_generation(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nturns:\n  - {user: hi, phase: a}\n  - {phase: b}\n")
    r = run("run", str(f), "--out", str(tmp_path / "o"), "--backend", "scripted")
    line = _one_line_error(r)
    assert str(f) in line and "turn 2" in line and "'user' is missing" in line
    assert not (tmp_path / "o").exists()
    f.write_text("name: [unclosed\n")
    assert "not valid YAML" in _one_line_error(run("check", str(f)))


@pytest.mark.parametrize("cond", ["secnd:0.8", "first:7", "stateless:0.2"])
def test_unknown_condition_lists_accepted_forms(tmp_path: Path, cond: str) -> None:
    r = run("run", "tone-swings", "--conditions", f"stateless,{cond}", "--out",
            str(tmp_path / "o"), "--backend", "scripted")
    line = _one_line_error(r)
    assert cond in line and "accepted forms: stateless, first:ALPHA" in line


def test_report_on_a_non_run_dir(tmp_path: Path) -> None:
    assert "not a protocol run directory" in _one_line_error(run("report", str(tmp_path)))

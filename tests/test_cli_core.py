"""The CLI as a user runs it: a real subprocess of .venv/bin/affagent (or ``python -m``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from affagent.affect.dynamics import simulate
from affagent.affect.vad import VAD
from affagent.persona import load_persona


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affagent", *args], capture_output=True, text=True, timeout=60
    )


def test_help() -> None:
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("personas", "state"):
        assert cmd in r.stdout


def test_personas_list_and_show() -> None:
    r = run("personas", "list", "--json")
    assert r.returncode == 0, r.stderr
    ids = {p["id"] for p in json.loads(r.stdout.splitlines()[-1])["personas"]}
    assert "calm-counsellor" in ids and len(ids) >= 5
    r = run("personas", "show", "anxious-novice")
    assert r.returncode == 0 and "Mehrabian" in r.stdout


@pytest.mark.parametrize("dyn", ["stateless", "first:0.3", "second:0.8"])
def test_state_simulate_json(dyn: str) -> None:
    imp = "-0.8,0.6,0.2;-0.8,0.6,0.2;0,0,0;0.5,0.1,0"
    r = run(
        "state",
        "simulate",
        "--persona",
        "calm-counsellor",
        "--dynamics",
        dyn,
        "--impulses",
        imp,
        "--json",
    )
    assert r.returncode == 0, r.stderr
    traj = json.loads(r.stdout.strip().splitlines()[-1])["trajectory"]
    p = load_persona("calm-counsellor")
    xs = [VAD(-0.8, 0.6, 0.2), VAD(-0.8, 0.6, 0.2), VAD(), VAD(0.5, 0.1, 0)]
    expect = [list(s.vad.as_tuple()) for s in simulate(xs, p.traits, dyn)]
    assert traj == expect


@pytest.mark.parametrize(
    "args,needle",
    [
        (["state", "simulate", "--impulses", "1,2"], "three numbers"),
        (["state", "simulate", "--impulses", "0,0,0", "--dynamics", "fourth:2"], "accepted forms"),
        (["state", "simulate", "--impulses", "0,0,5"], "outside"),
        (["state", "simulate", "--impulses", "0,0,0", "--persona", "nobody"], "unknown persona"),
        (["personas", "show", "nobody"], "unknown persona"),
    ],
)
def test_bad_arguments_one_line_exit_2(args: list[str], needle: str) -> None:
    r = run(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_help_paragraphs_reflow_but_examples_keep_their_lines() -> None:
    from affagent.cli._common import reflow

    doc = """One turn: print the reply and
    the session id.

    Examples:
      affagent say "hi"
      affagent say --json "hi"
    """
    out = reflow(doc)
    assert out.startswith("One turn: print the reply and the session id.\n\n")
    assert 'Examples:\n  affagent say "hi"\n  affagent say --json "hi"' in out


def test_say_help_wraps_at_the_terminal_width() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "60"}
    r = subprocess.run([sys.executable, "-m", "affagent", "say", "--help"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 60
    text = " ".join(ln.strip() for ln in lines)
    assert "a crisis or boundary message gets the safety reply" in text  # one sentence, reflowed

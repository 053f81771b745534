"""``affagent say``, ``sessions`` and ``demo`` as a user runs them (subprocesses), with a fake
backend loaded by name so no model is needed (the real backends: test_agent_e2e)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKE = "scripted"


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        AFFAGENT_HOME=str(tmp_path / "home"),
        AFFAGENT_ESTIMATOR="keywords",
        AFFAGENT_CLASSIFIER="none",
        AFFAGENT_SELECTOR="none",
        PYTHONPATH=str(ROOT),
    )
    e.pop("AFFAGENT_DATABASE_URL", None)
    return e


def subprocess_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real thing: a new Python process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "affagent", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """In-process ``affagent.cli.main`` with the same environment (process start is slow on a
    busy 2-core box; the subprocess path is covered by the tests that call subprocess_run)."""
    import contextlib
    import io

    from affagent.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(old)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def last_json(r: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_say_json_continues_across_calls(env: dict[str, str]) -> None:
    a = last_json(
        subprocess_run(env, "say", "--backend", FAKE, "--json", "I am furious and miserable")
    )
    assert set(a) == {
        "session", "turn", "reply", "state", "strategy", "user_estimate", "safety", "feeling",
        "stimulus",
    }
    assert a["feeling"] and all(isinstance(w, str) for w in a["feeling"])
    assert set(a["stimulus"]) == {"V", "A", "D"}
    assert a["safety"] == "pass"
    assert a["turn"] == 1 and set(a["state"]) == {"V", "A", "D"} and a["user_estimate"]["V"] < 0
    b = last_json(run(env, "say", "--backend", FAKE, "--session", a["session"], "--json", "ok"))
    assert b["session"] == a["session"] and b["turn"] == 2
    # the state continued from turn 1, not from rest
    assert b["state"] != a["state"]
    listed = last_json(run(env, "sessions", "list", "--json"))
    assert [s["id"] for s in listed["sessions"]] == [a["session"]]
    assert listed["sessions"][0]["turns"] == 2


def test_say_human_output_names_the_session(env: dict[str, str]) -> None:
    r = subprocess_run(env, "say", "--backend", FAKE, "--injection", "prefill", "my garden")
    assert r.returncode == 0, r.stderr
    assert "garden" in r.stdout  # the scripted backend echoes the topic
    assert "--session" in r.stderr and "feeling" in r.stderr


def test_sessions_show_and_export(env: dict[str, str], tmp_path: Path) -> None:
    a = last_json(run(env, "say", "--backend", FAKE, "--json", "first line"))
    sid = a["session"]
    r = run(env, "sessions", "show", sid)
    assert r.returncode == 0 and f"# Session {sid}" in r.stdout and "> first line" in r.stdout
    out = tmp_path / "s.json"
    r = run(env, "sessions", "export", sid, "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["turns"][0]["reply"] == a["reply"] and len(doc["states"]) == 2
    shown = last_json(run(env, "sessions", "show", sid, "--json"))
    assert shown["session"]["id"] == sid


@pytest.mark.parametrize(
    "args,needle",
    [
        (["say", "--backend", FAKE, "   "], "empty"),
        (["say", "--backend", FAKE, "--session", "nope", "hi"], "no session"),
        (["say", "--backend", FAKE, "--persona", "nobody", "hi"], "unknown persona"),
        (["say", "--backend", FAKE, "--dynamics", "fourth:1", "hi"], "accepted forms"),
        (["say", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "hi"],
         "cannot reach"),
        (["say", "--backend", "tests.agent_fakes:Nope", "hi"], "cannot load backend"),
        (["sessions", "show", "nope"], "no session"),
        (["sessions", "export", "nope"], "no session"),
    ],
)
def test_errors_are_one_line_exit_2(env: dict[str, str], args: list[str], needle: str) -> None:
    r = run(env, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert last_json(run(env, "sessions", "list", "--json"))["sessions"] == []  # nothing stored


def test_error_in_a_real_process(env: dict[str, str]) -> None:
    r = subprocess_run(env, "say", "--backend", FAKE, "--session", "nope", "hi")
    assert r.returncode == 2 and r.stderr.strip() == "error: no session 'nope'"


def test_backend_failure_keeps_session_and_says_resend(env: dict[str, str]) -> None:
    a = last_json(run(env, "say", "--backend", FAKE, "--json", "hi"))
    env2 = dict(env, AFFAGENT_FAKE_FAIL="down")
    r = run(
        env2,
        "say",
        "--backend",
        "tests.agent_fakes:failing_backend",
        "--session",
        a["session"],
        "important message",
    )
    assert r.returncode == 2 and "not stored" in r.stderr and "Traceback" not in r.stderr
    listed = last_json(run(env, "sessions", "list", "--json"))
    assert listed["sessions"][0]["turns"] == 1


def test_demo_runs_a_conversation(env: dict[str, str]) -> None:
    doc = last_json(run(env, "demo", "--backend", FAKE, "--json"))
    turns = doc["turns"]
    assert len(turns) == 5 and [t["turn"] for t in turns] == [1, 2, 3, 4, 5]
    # the user's estimated valence dips in the middle and recovers at the end
    vs = [t["user_estimate"]["V"] for t in turns]
    assert min(vs[1:3]) < vs[4]
    r = run(env, "demo", "--backend", FAKE)
    assert r.returncode == 0 and r.stdout.count("agent >") == 5


def test_help_lists_commands(env: dict[str, str]) -> None:
    r = run(env, "--help")
    for cmd in ("say", "sessions", "demo"):
        assert cmd in r.stdout
    r = run(env, "say", "--help")
    assert "--session" in r.stdout and "--backend" in r.stdout


def test_prepare_warms_up_without_touching_the_store(env: dict[str, str]) -> None:
    r = subprocess_run(env, "prepare", "--backend", FAKE, "--json")
    assert r.returncode == 0, r.stderr
    doc = last_json(r)
    assert doc["components"]["backend"] == FAKE and doc["first_turn_s"] >= 0
    assert last_json(run(env, "sessions", "list", "--json"))["sessions"] == []
    r = subprocess_run(env, "prepare", "--backend", FAKE, "--no-prompt")
    assert r.returncode == 0 and "models ready" in r.stdout and "first turn" not in r.stdout


def test_the_executable_exits_fast_but_delivers_everything(env: dict[str, str]) -> None:
    """`python -m affagent` leaves through os._exit after flushing: long output must arrive
    whole through a pipe, and exit codes must survive (0, and 2 for errors)."""
    long = "a long message " * 250
    r = subprocess_run(env, "say", "--backend", FAKE, "--json", long)
    assert r.returncode == 0 and last_json(r)["turn"] == 1
    r = subprocess_run(env, "sessions", "show", last_json(r)["session"], "--json")
    assert r.returncode == 0 and long.strip() in r.stdout and r.stdout.endswith("\n")
    r = subprocess_run(dict(env, AFFAGENT_SLOW_EXIT="1"), "say", "--backend", FAKE, "  ")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = subprocess_run(env, "say", "--backend", FAKE, "  ")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_say_runs_the_safety_check_first(env: dict[str, str]) -> None:
    crisis = "I don't want to be alive anymore"
    a = last_json(run(env, "say", "--backend", FAKE, "--json", "--locale", "en-GB", crisis))
    assert a["safety"] == "crisis" and "116 123" in a["reply"]  # Samaritans, en-GB
    shown = run(env, "sessions", "show", a["session"])
    assert "116 123" in shown.stdout  # stored like any turn
    r = run(env, "say", "--backend", FAKE, crisis)
    assert "[safety: crisis" in r.stderr and "988" in r.stdout
    b = last_json(run(env, "say", "--backend", FAKE, "--json", "--no-safety", crisis))
    assert b["safety"] is None and "116 123" not in b["reply"]


def test_say_streams_the_reply_it_stores(env: dict[str, str]) -> None:
    r = subprocess_run(env, "say", "--backend", FAKE, "my garden is full of weeds")
    assert r.returncode == 0, r.stderr
    sid = r.stderr.split("--session ")[1].split()[0]
    stored = last_json(run(env, "sessions", "show", sid, "--json"))
    assert r.stdout == stored["turns"][0]["reply"] + "\n"


def test_say_failing_mid_stream_ends_the_line_and_stores_nothing(env: dict[str, str]) -> None:
    a = last_json(run(env, "say", "--backend", FAKE, "--json", "hi"))
    r = subprocess_run(
        dict(env, AFFAGENT_FAKE_FAIL="midstream"),
        "say", "--backend", "tests.agent_fakes:failing_backend", "--session", a["session"],
        "important message",
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stdout.endswith("\n")  # the partial reply's line was closed
    assert "not stored" in r.stderr
    listed = last_json(run(env, "sessions", "list", "--json"))
    assert listed["sessions"][0]["turns"] == 1


def test_say_reads_the_message_from_stdin_or_a_file(env: dict[str, str], tmp_path: Path) -> None:
    """Long or binary input reaches the same validation as the HTTP service's."""
    r = subprocess.run(
        [sys.executable, "-m", "affagent", "say", "--backend", FAKE, "--json", "-"],
        input=b"I had a long day at work.\n", capture_output=True, timeout=120, env=env,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert a["turn"] == 1 and a["safety"] == "pass"
    binary = tmp_path / "msg.bin"
    binary.write_bytes(b"caf\xe9 \x00\x07 ok")  # Latin-1 byte, NUL and BEL
    b = last_json(run(env, "say", "--backend", FAKE, "--json", "--file", str(binary)))
    stored = b["session"]
    (turn,) = json.loads(last_json_text(run(env, "sessions", "show", stored, "--json")))["turns"]
    assert turn["user_text"] == "caf\ufffd  ok"  # replaced and stripped, as over HTTP
    big = tmp_path / "big.txt"
    big.write_text("x" * 5000)
    e = run(env, "say", "--backend", FAKE, "--file", str(big))
    assert e.returncode == 2 and "4000" in e.stderr
    missing = run(env, "say", "--file", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def last_json_text(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_bad_dynamics_are_errors_not_silent_defaults(env: dict[str, str]) -> None:
    for bad, message in [("", "unknown dynamics ''"), ("second:nan", "not a finite number"),
                         ("first:inf", "not a finite number")]:
        r = run(env, "say", "--backend", FAKE, "--dynamics", bad, "hello")
        assert r.returncode == 2 and message in r.stderr, (bad, r.stderr)

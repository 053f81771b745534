"""``affagent eval vad`` / ``eval emotions`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AFFAGENT_HOME": str(home)} if home else None
    return subprocess.run([sys.executable, "-m", "affagent", "eval", *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("cmd", ["vad", "emotions"])
def test_wrong_file_is_one_line_error(tmp_path: Path, cmd: str) -> None:
    p = tmp_path / "wrong.csv"
    p.write_text("a;b;c\n1;2;3\n")
    r = run(cmd, "--data", str(p), "--json")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(p) in lines[0]
    assert ("id,split,V,A,D,text" if cmd == "vad" else "GoEmotions TSV") in lines[0]
    assert "Traceback" not in r.stderr


def test_help_mentions_formats() -> None:
    r = run("vad", "--help")
    assert r.returncode == 0 and "--estimator" in r.stdout and "--split" in r.stdout


@pytest.mark.slow
def test_eval_commands_on_small_files(tmp_path: Path) -> None:
    eb = tmp_path / "eb.csv"
    eb.write_text("id,split,V,A,D,text\n"
                  'a,dev,4.6,3.8,3.4,"I am thrilled, this is the best day of my life!"\n'
                  "b,dev,1.4,3.6,2.2,My father died and I can't stop crying.\n"
                  "c,dev,3.0,2.6,3.0,The train leaves at nine.\n"
                  "d,train,3.0,3.0,3.0,ignored by --split dev\n")
    home = tmp_path / "home"
    r = run("vad", "--data", str(eb), "--split", "dev", "--json", home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n"] == 3 and set(out["pearson"]) == {"V", "A", "D"}
    assert out["pearson"]["V"] > 0.8

    ge = tmp_path / "ge.tsv"
    ge.write_text("Thank you so much, I really appreciate it!\t15\tx1\n"
                  "This is so sad, I miss him.\t25\tx2\n")
    ed = tmp_path / "ed.jsonl"
    ed.write_text('{"context": ["I was terrified when the tire burst on the highway"], '
                  '"emotion": "terrified"}\n{"text": "I am so proud of my daughter for '
                  'graduating", "emotion": "proud"}\n')
    r = run("emotions", "--data", str(ge), "--json", home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n"] == 2 and 0.0 <= out["macro_f1"] <= 1.0
    r = run("emotions", "--data", str(ed), "--json", home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n"] == 2 and out["acc_at_5"] >= out["acc_at_1"] >= 0.5


def test_part_is_for_empathetic_files_only(tmp_path: Path) -> None:
    ge = tmp_path / "ge.tsv"
    ge.write_text("I love it\t18\tx1\n")
    r = run("emotions", "--data", str(ge), "--part", "heldout")
    assert r.returncode == 2 and "EmpatheticDialogues files only" in r.stderr
    ed = tmp_path / "ed.jsonl"
    ed.write_text('{"context": ["my dog died"], "emotion": "sad"}\n')
    r = run("emotions", "--data", str(ed), "--part", "test")
    assert r.returncode == 2 and "fit, select, heldout" in r.stderr

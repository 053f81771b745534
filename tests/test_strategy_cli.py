"""``affagent eval strategy`` / ``eval bias`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affagent", "eval", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


KEYS = {"Q", "Q_W", "B", "accuracy", "preference", "n"}


def test_eval_bias_reproduces_kang2024(shared_data: Path) -> None:
    r = run("bias", "--predictions", str(shared_data / "kang2024/predictions.tsv"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert set(out) >= KEYS
    assert (out["Q"], out["Q_W"], out["B"], out["n"]) == (21.89, 22.5, 0.767, 1611)
    human = run("bias", "--predictions", str(shared_data / "kang2024/predictions.tsv"))
    assert "Affirmation and Reassurance" in human.stdout and "0.767" in human.stdout


def test_eval_strategy_prior_baseline(shared_data: Path) -> None:
    r = run(
        "strategy",
        "--data",
        str(shared_data / "esconv/valid.jsonl"),
        "--selector",
        "prior",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert set(out) >= KEYS and out["n"] == 2527
    assert out["preference"]["Others"] == 8.0 and out["Q"] < 5  # the majority class only


@pytest.mark.parametrize(
    "args,needle",
    [
        (["bias", "--predictions", "{esconv}"], "expected tab-separated columns"),
        (["strategy", "--data", "{kang}", "--selector", "prior"], "not an ESConv dialogue"),
        (["strategy", "--data", "/nonexistent.jsonl"], "cannot read"),
        (["strategy", "--data", "{esconv}", "--selector", "oracle"], "unknown selector"),
    ],
)
def test_wrong_inputs_give_one_line_errors(shared_data: Path, args: list[str], needle: str) -> None:
    paths = {
        "{esconv}": str(shared_data / "esconv/valid.jsonl"),
        "{kang}": str(shared_data / "kang2024/predictions.tsv"),
    }
    r = run(*[paths.get(a, a) for a in args])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in r.stderr


def test_help_explains_the_metrics() -> None:
    r = run("strategy", "--help")
    assert r.returncode == 0 and "Bradley" in r.stdout and "--selector" in r.stdout


def test_eval_strategy_side_by_side(shared_data: Path) -> None:
    data = str(shared_data / "esconv/valid.jsonl")
    r = run("strategy", "--data", data, "--selector", "prior,uniform", "--limit", "200",
            "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert set(out["selectors"]) == {"prior", "uniform"}
    assert out["selectors"]["prior"]["n"] == out["selectors"]["uniform"]["n"] == 200
    assert out["selectors"]["prior"]["B"] > out["selectors"]["uniform"]["B"]
    human = run("strategy", "--data", data, "--selector", "prior,uniform", "--limit", "200")
    header = human.stdout.splitlines()[1].split()
    assert header == ["prior", "uniform"] and "Q (macro-F1)" in human.stdout
    bad = run("strategy", "--data", data, "--selector", "prior,oracle")
    assert bad.returncode == 2 and "unknown selector" in bad.stderr

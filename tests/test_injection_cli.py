"""``affagent eval injection`` as a user runs it (real subprocesses): bad input fails fast with
one line, and a run prints every field of the documented JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affagent", "eval", "injection", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def dialogue(n_pairs: int = 3) -> str:
    turns = []
    for i in range(n_pairs):
        turns.append({"speaker": "usr", "text": f"I have been worried about exam {i}."})
        turns.append({"speaker": "sys", "text": "What worries you most?", "strategy": "Question"})
    return json.dumps({"dialog": turns})


def test_malformed_line_is_named(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(dialogue() + "\n{not json\n")
    r = run("--data", str(data), "--backend", "scripted", "--n", "2")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and f"{data}:2" in r.stderr


def test_missing_data_file(tmp_path: Path) -> None:
    r = run("--data", str(tmp_path / "nope.jsonl"), "--backend", "scripted")
    assert r.returncode == 2 and "nope.jsonl" in r.stderr and "Traceback" not in r.stderr


def test_unknown_method_lists_the_methods(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(dialogue() + "\n")
    r = run("--data", str(data), "--backend", "scripted", "--methods", "none,shout")
    assert r.returncode == 2
    assert "'shout'" in r.stderr and "prefill" in r.stderr and "steer" in r.stderr


def test_steer_on_a_backend_that_cannot_steer_fails_before_generating(tmp_path: Path) -> None:
    """The scripted and OpenAI-compatible backends declare no steering directions; the
    error names what they support. The server URL is never contacted (nothing listens)."""
    data = tmp_path / "d.jsonl"
    data.write_text(dialogue() + "\n")
    for backend in (["--backend", "scripted"],
                    ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                     "--model", "m"]):
        r = run("--data", str(data), *backend, "--methods", "none,steer+prefill",
                timeout=120)
        assert r.returncode == 2, r.stderr
        assert "steer+prefill" in r.stderr and "cannot" in r.stderr
        assert "it supports: fewshot, none, prefill, system" in r.stderr


JSON_TONE = {"r", "partial_r", "ci"}
JSON_METHOD = {"tone", "adherence", "fluency", "relevance", "overhead_ms"}
JSON_FLUENCY = {"complete_rate", "distinct_1", "distinct_2", "repeat_trigram_rate",
                "mean_tokens", "example_copy_rate"}


def check_report(out: dict[str, object], methods: list[str], n: int) -> None:
    assert {"backend", "data", "n", "seed", "default_method", "methods"} <= set(out)
    assert out["n"] == n
    got = out["methods"]
    assert isinstance(got, dict) and list(got) == methods
    for res in got.values():
        assert set(res) >= JSON_METHOD
        for ax in "VAD":
            assert set(res["tone"][ax]) >= JSON_TONE | {"whole"}
            assert set(res["tone"][ax]["whole"]) >= JSON_TONE
        assert {"overall", "ceiling", "per_strategy"} <= set(res["adherence"])
        assert len(res["adherence"]["per_strategy"]) == 8
        assert res["adherence"]["ceiling"]["accuracy"] > 0.3
        assert set(res["fluency"]) >= JSON_FLUENCY
        assert 0 <= res["fluency"]["complete_rate"] <= 1
        assert 0 <= res["fluency"]["example_copy_rate"] <= 1
        assert {"mean", "shuffled"} <= set(res["relevance"])
    assert got[methods[0]]["overhead_ms"] == 0.0  # none against itself


@pytest.mark.slow
def test_scripted_run_prints_every_field(shared_data: Path, tmp_path: Path) -> None:
    r = run("--data", str(shared_data / "esconv/valid.jsonl"), "--backend", "scripted",
            "--n", "6", "--methods", "none,system,prefill", "--no-cache", "--json",
            "--no-progress")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    check_report(out, ["none", "system", "prefill"], 6)
    assert out["default_method"] == "system"


@pytest.mark.slow
def test_real_embedded_run(shared_data: Path, tmp_path: Path) -> None:
    """The real default model, three cases, a few tokens each: the JSON holds every field,
    and the cache makes a second run generate nothing."""
    cache = tmp_path / "gen.jsonl"
    args = ["--data", str(shared_data / "esconv/valid.jsonl"), "--n", "3", "--max-tokens",
            "12", "--cache", str(cache), "--json", "--no-progress", "--no-hints"]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    default = out["default_method"]
    check_report(out, ["none", default] if default != "none" else ["none"], 3)
    rows = cache.read_text().splitlines()
    again = run(*args)
    assert again.returncode == 0, again.stderr
    assert cache.read_text().splitlines() == rows  # nothing new generated
    assert json.loads(again.stdout.splitlines()[-1])["methods"][default]["timing"][
        "cached_share"] == 1.0

"""The on-disk layout of a protocol run and how to read it back.

::

    DIR/
      manifest.json            what was run: protocol (name, digest), persona, conditions, seeds,
                               backend, generation options, phase roles
      protocol.yaml            a copy of the protocol file
      sessions.db              the agent's session store (one session per condition × seed)
      runs/<condition>/seed-<n>.jsonl
                               one JSON object per finished turn (:class:`TurnRow`), appended
                               as soon as the turn is committed: the resume point
      summary.json             metrics per run and mean ± SD per condition (written at the end)

Everything here is pure reading and computing; the runner writes, the report plots.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from affagent.affect.dynamics import ACCEPTED_FORMS, DynamicsSpec, parse_dynamics
from affagent.errors import ConfigError
from affagent.evals.metrics import MetricParams, Trajectory, run_metrics, summarise, top_labels
from affagent.evals.protocol import PhaseRoles, Protocol, load_protocol_file

__all__ = [
    "MANIFEST",
    "Manifest",
    "RunData",
    "TurnRow",
    "condition_slug",
    "load_manifest",
    "load_runs",
    "metrics_by_condition",
    "read_rows",
    "run_path",
]

MANIFEST = "manifest.json"
PROTOCOL_COPY = "protocol.yaml"
SUMMARY = "summary.json"

VADDict = dict[str, float]


class TurnRow(BaseModel):
    """One finished turn of one run, as written to the run's JSONL file."""

    model_config = ConfigDict(extra="allow")

    condition: str
    seed: int
    turn: int = Field(description="1-based")
    phase: str
    user: str
    reply: str
    session_id: str
    user_vad: VADDict
    target: VADDict = Field(description="the personality's target for the user's turn")
    stimulus: VADDict | None = Field(
        None, description="what the user's turn meant to the persona (the appraisal)"
    )
    state_before: VADDict
    state: VADDict = Field(description="state after the turn: what the prompt was given")
    reply_vad: VADDict | None = None
    gen_vad: VADDict | None = Field(
        None,
        description="the estimate of the model's own continuation, without the prefilled "
        "opener the agent wrote in the state's tone (equals reply_vad when nothing was "
        "prefilled)",
    )
    prefill: str = ""
    strategy: str | None = None
    emotion: str | None = Field(None, description="top classifier label of the user's turn")
    ms: float | None = Field(None, description="wall time of the turn in milliseconds")
    attempts: int = Field(1, description="1 + retries after a backend failure")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    protocol: str
    digest: str
    turns: int
    persona: str
    conditions: list[str]
    seeds: list[int]
    backend: str
    model: str | None = None
    generation: dict[str, Any] = Field(default_factory=dict)
    roles: dict[str, list[str]] = Field(default_factory=dict)
    rest: VADDict = Field(default_factory=dict, description="the persona's resting mood")

    def phase_roles(self) -> PhaseRoles:
        r = self.roles
        return PhaseRoles.of(
            r.get("neutral", []), r.get("adversarial", []), r.get("reconciliation", [])
        )


def condition_slug(spec: DynamicsSpec | str) -> str:
    """A file-name-safe form of a condition: ``second:0.8`` → ``second-0.8``."""
    return str(spec).replace(":", "-")


def run_path(out: Path, condition: str, seed: int) -> Path:
    return out / "runs" / condition_slug(condition) / f"seed-{seed}.jsonl"


def read_rows(path: Path, *, repair: bool = False) -> list[TurnRow]:
    """The finished turns in a run file. A last line cut off by an interruption is ignored
    (and, with ``repair``, truncated away so appending continues cleanly)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if repair and end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
    rows = []
    for i, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(TurnRow.model_validate_json(line))
        except ValueError as exc:
            raise ConfigError(f"{path}: line {i} is not a turn record ({exc})") from None
    return rows


def load_manifest(out: Path) -> Manifest:
    f = out / MANIFEST
    if not f.exists():
        raise ConfigError(f"{out}: not a protocol run directory (no {MANIFEST})")
    try:
        return Manifest.model_validate_json(f.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{f}: unreadable manifest ({exc})".replace("\n", " ")) from None


def load_protocol_copy(out: Path) -> Protocol:
    return load_protocol_file(out / PROTOCOL_COPY)


@dataclass(frozen=True)
class RunData:
    condition: str
    seed: int
    rows: list[TurnRow]

    @property
    def complete_for(self) -> int:
        return len(self.rows)

    def series(self, key: str, axis: str = "V") -> list[float]:
        return [float(getattr(r, key)[axis]) for r in self.rows]

    def trajectory(self, rest_v: float = 0.0) -> Trajectory:
        states = [(r.state["V"], r.state["A"], r.state["D"]) for r in self.rows]
        return Trajectory(
            phases=[r.phase for r in self.rows],
            valence=[s[0] for s in states],
            target=self.series("target"),
            labels=top_labels(states),
            reply=[None if r.reply_vad is None else r.reply_vad["V"] for r in self.rows],
            reply_gen=[None if r.gen_vad is None else r.gen_vad["V"] for r in self.rows],
            user=self.series("user_vad"),
            rest=rest_v,
        )


def load_runs(out: Path, manifest: Manifest | None = None) -> dict[str, list[RunData]]:
    """Runs per condition (manifest order), each run's rows in turn order."""
    m = manifest or load_manifest(out)
    res: dict[str, list[RunData]] = {}
    for cond in m.conditions:
        res[cond] = []
        for seed in m.seeds:
            rows = read_rows(run_path(out, cond, seed))
            if rows:
                res[cond].append(RunData(cond, seed, rows))
    return res


def metrics_by_condition(
    runs: dict[str, list[RunData]],
    roles: PhaseRoles,
    params: MetricParams | None = None,
    *,
    rest_v: float = 0.0,
    turns: int | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, dict[str, Any]]]]:
    """Per-run metrics and their mean ± SD per condition. Runs shorter than ``turns`` (an
    interrupted run) are left out of the summary."""
    per_run: dict[str, list[dict[str, Any]]] = {}
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for cond, rs in runs.items():
        full = [r for r in rs if turns is None or r.complete_for >= turns]
        per_run[cond] = [
            {"seed": r.seed, **run_metrics(r.trajectory(rest_v), roles, params)} for r in full
        ]
        summary[cond] = summarise([{k: v for k, v in m.items() if k != "seed"} for m in
                                   per_run[cond]])
    return per_run, summary


def mean_series(rs: Sequence[RunData], key: str, axis: str) -> tuple[list[float], list[float]]:
    """Mean and SD over runs of one series, turn by turn (runs of equal length)."""
    import numpy as np

    if not rs:
        return [], []
    n = min(r.complete_for for r in rs)
    arr = np.array([[float(getattr(row, key)[axis]) for row in r.rows[:n]] for r in rs])
    sd = arr.std(axis=0, ddof=1) if len(rs) > 1 else np.zeros(n)
    return arr.mean(axis=0).tolist(), sd.tolist()


def dump_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def parse_conditions(text: str) -> list[DynamicsSpec]:
    """``"stateless,first:0.3,second:0.8"`` → specs (canonical, duplicates removed)."""
    out: list[DynamicsSpec] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            spec = parse_dynamics(part)
        except ConfigError as exc:
            msg = str(exc)
            if ACCEPTED_FORMS not in msg:
                msg = f"{msg}; accepted forms: {ACCEPTED_FORMS}"
            raise ConfigError(f"bad condition {part!r}: {msg}") from None
        if spec not in out:
            out.append(spec)
    if not out:
        raise ConfigError("no conditions given; e.g. --conditions stateless,first:0.3,second:0.8")
    return out

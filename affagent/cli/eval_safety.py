"""``affagent eval safety``: precision and recall of the crisis detector on a JSONL file."""

from __future__ import annotations

from pathlib import Path

import typer

from affagent.cli._common import print_json

_DEFAULT = Path(__file__).resolve().parents[2] / "evals" / "safety" / "test.jsonl"


def safety(
    data: Path = typer.Option(
        _DEFAULT,
        "--data",
        help="JSONL with text, label (self_harm|violence|none) and kind; see evals/safety/.",
    ),
    detector: str = typer.Option(
        "rules",
        "--detector",
        help="rules | hybrid (rules + embedding backstop; its prototypes are dev.jsonl, so "
        "evaluate it on the other sets).",
    ),
    show_errors: bool = typer.Option(
        True, "--errors/--no-errors", help="List the misses and false alarms."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (last line)."),
) -> None:
    """Precision and recall of the risk detector (any risk label = positive).

    The shipped sets were written by the developers, so these figures overstate real-world
    performance; see docs/safety.md for where the detector fails.

    Example: affagent eval safety --data evals/safety/test.jsonl --json
    """
    from affagent.safety import evaluate, load_detector, load_items

    items = load_items(data)
    report = evaluate(load_detector(detector), items)
    if as_json:
        print_json(
            {
                "data": str(data),
                "detector": detector,
                **report.model_dump(),
                "meets_target": report.meets(),
            }
        )
        return
    typer.echo(
        f"{data}: n={report.n} positives={report.positives}  precision={report.precision:.3f} "
        f"recall={report.recall:.3f} f1={report.f1:.3f}  "
        f"(target recall ≥ 0.95 at precision ≥ 0.8: {'met' if report.meets() else 'NOT met'})"
    )
    for c, v in report.per_category.items():
        typer.echo(
            f"  {c:<10} precision={v['precision']:.3f} recall={v['recall']:.3f} "
            f"support={int(v['support'])}"
        )
    typer.echo("  flagged share by label/kind:")
    for k, v in report.flag_rate_by_kind.items():
        typer.echo(f"    {k:<24} {int(v['flagged'])}/{int(v['n'])}")
    if show_errors:
        for m in report.misses:
            typer.echo(f"  MISS  {m['id']} [{m['label']}/{m['kind']}] {m['text']}")
        for a in report.false_alarms:
            typer.echo(f"  ALARM {a['id']} {a['text']}  rules={','.join(a['rules'])}")


def register(app: typer.Typer) -> None:
    app.command("safety")(safety)

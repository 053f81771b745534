"""``affagent eval safety``: precision, recall and flag rates of the crisis detector."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from affagent.cli._common import fail, print_json, with_progress

_DEFAULT = Path(__file__).resolve().parents[2] / "evals" / "safety" / "heldout.jsonl"


def safety(
    data: Path = typer.Option(
        _DEFAULT,
        "--data",
        help="JSONL (text, label self_harm|violence|risk|none, kind, history) or TSV with a "
        "header 'label<TAB>text' (labels risk/safe; optional kind, id, history columns, "
        "history turns separated by |||); see evals/safety/README.md.",
    ),
    detector: str = typer.Option(
        "auto",
        "--detector",
        help="auto (the default everywhere: rules + learned stage when the encoder is "
        "installed) | hybrid | learned | rules.",
    ),
    show_errors: bool = typer.Option(
        True, "--errors/--no-errors", help="List the misses and false alarms."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (last line)."),
) -> None:
    """Precision, recall and flag rate per kind of the risk detector (any risk = positive).

    The learned stage was trained on evals/safety/tune.jsonl, dev.jsonl and probe.jsonl:
    evaluate it on heldout.jsonl, test.jsonl, probe2.jsonl or your own file.

    Example: affagent eval safety --data evals/safety/heldout.jsonl --json
    """
    from affagent.errors import AffagentError
    from affagent.safety import evaluate, load_detector, load_items

    try:
        items = load_items(data)
        det = load_detector(detector)
        report = with_progress(
            not as_json and sys.stderr.isatty(),
            len(items),
            "assessing",
            lambda tick: evaluate(det, items, progress=tick),
        )
    except AffagentError as exc:
        fail(str(exc))
    if as_json:
        print_json(
            {
                "data": str(data),
                "detector": getattr(det, "name", detector),
                **report.model_dump(),
                "meets_target": report.meets(),
            }
        )
        return
    typer.echo(
        f"{data}: n={report.n} positives={report.positives} detector={det.name}  "
        f"precision={report.precision:.3f} recall={report.recall:.3f} f1={report.f1:.3f} "
        f"flagged={report.flag_rate:.1%}  (target recall ≥ 0.95 at precision ≥ 0.90: "
        f"{'met' if report.meets() else 'NOT met'})"
    )
    for c, v in report.per_category.items():
        if v["support"] or v["precision"]:
            typer.echo(
                f"  {c:<10} precision={v['precision']:.3f} recall={v['recall']:.3f} "
                f"support={int(v['support'])}"
            )
    typer.echo("  per kind (risk kinds: recall; safe kinds: false-alarm rate):")
    for k, s in report.per_kind.items():
        bits = []
        if s.recall is not None:
            bits.append(f"recall {s.recall:.2f} of {s.positives}")
        if s.false_alarm_rate is not None:
            bits.append(f"false alarms {s.false_alarm_rate:.2f} of {s.n - s.positives}")
        typer.echo(f"    {k:<16} n={s.n:<4} flagged {s.flagged:>3} ({s.flag_rate:>4.0%})  "
                   + "; ".join(bits))
    if show_errors:
        for m in report.misses:
            ctx = f"  (after: {' | '.join(m['history'])})" if m["history"] else ""
            typer.echo(f"  MISS  {m['id']} [{m['kind'] or m['label']}] {m['text']}{ctx}")
        for a in report.false_alarms:
            ctx = f"  (after: {' | '.join(a['history'])})" if a["history"] else ""
            typer.echo(f"  ALARM {a['id']} [{a['kind']}] {a['text']}{ctx}  "
                       f"rules={','.join(a['rules'])}")


def register(app: typer.Typer) -> None:
    app.command("safety")(safety)

"""``affagent eval strategy`` and ``affagent eval bias``: strategy proficiency (Q, Q_W),
preference bias (B) and accuracy, as Kang et al. (ACL 2024) measure them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from affagent.cli._common import print_json

if TYPE_CHECKING:
    from affagent.strategy.metrics import StrategyScores


def _print_scores(scores: StrategyScores, title: str) -> None:
    typer.echo(title)
    typer.echo(
        f"Q (macro-F1) {scores.Q:6.2f}   Q_W {scores.Q_W:6.2f}   B {scores.B:6.3f}   "
        f"accuracy {scores.accuracy:6.1%}   n {scores.n}"
    )
    typer.echo(f"{'strategy':<30}{'preference':>11}{'F1':>8}{'predicted':>11}")
    for name, p in scores.preference.items():
        typer.echo(
            f"{name:<30}{p:>11.3f}{scores.per_class_f1.get(name, 0.0):>8.1f}"
            f"{scores.predicted_share.get(name, 0.0):>11.1%}"
        )


def _with_progress(enabled: bool, total: int, label: str, fn: Callable[..., Any]) -> Any:
    if not enabled:
        return fn(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        return fn(lambda n: bar.advance(task, n))


def register(app: typer.Typer) -> None:
    @app.command("strategy")
    def strategy(
        data: Path = typer.Option(
            ..., "--data", help="ESConv-format JSONL (e.g. esconv/valid.jsonl)."
        ),
        selector: str = typer.Option(
            "learned", "--selector", help="learned | llm | prior | uniform."
        ),
        bias_control: bool = typer.Option(
            True,
            "--bias-control/--no-bias-control",
            help="learned selector: balance choices against the training prior (ablation).",
        ),
        weights: Path | None = typer.Option(
            None, "--weights", help="learned selector: a head .npz (default: the shipped one)."
        ),
        backend: str = typer.Option(
            "embedded", "--backend", help="llm selector: embedded | openai | vllm | scripted."
        ),
        base_url: str | None = typer.Option(None, "--base-url", help="llm selector: server URL."),
        model: str | None = typer.Option(None, "--model", help="llm selector: model name/path."),
        constrained: str = typer.Option(
            "auto",
            "--constrained",
            help="llm selector: auto | guided_choice | structured_outputs | none.",
        ),
        limit: int | None = typer.Option(
            None, "--limit", min=1, help="Score only the first N supporter turns."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Bar on stderr."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Score a strategy selector on every supporter turn after the first of each dialogue.

        Prints Q (macro-F1 ×100), Q_W (weighted F1 ×100), the preference bias B (SD of
        Bradley–Terry preference scores over the off-diagonal confusions; 0 = unbiased),
        accuracy and each strategy's preference score.
        """
        from affagent.strategy import load_selector
        from affagent.strategy.data import iter_examples, load_esconv
        from affagent.strategy.evaluation import evaluate_selector

        dialogues = load_esconv(data)
        kw: dict[str, Any] = {}
        key = selector.strip().lower()
        if key == "learned":
            kw = {"bias_control": bias_control, "weights": weights}
        elif key == "llm":
            from affagent.backends import load_backend

            if constrained not in ("auto", "guided_choice", "structured_outputs", "none"):
                from affagent.errors import ConfigError

                raise ConfigError(f"--constrained: unknown mode {constrained!r}")
            kw = {
                "backend": load_backend(backend, base_url=base_url, model=model)
                if backend != "embedded"
                else load_backend(backend, model_path=model),
                "constrained": constrained,
            }
        sel = load_selector(key, **kw)
        total = sum(1 for _ in iter_examples(dialogues))
        total = min(total, limit) if limit else total
        scores, _, _ = _with_progress(
            progress,
            total,
            f"{key} selector",
            lambda tick: evaluate_selector(sel, dialogues, limit=limit, progress=tick),
        )
        if json_out:
            print_json({**scores.as_dict(), "selector": key, "data": str(data)})
            return
        _print_scores(scores, f"{key} selector on {data}")

    @app.command("bias")
    def bias(
        predictions: Path = typer.Option(
            ...,
            "--predictions",
            help="TSV with columns sample_id, strategy_gold, strategy_pred.",
        ),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Q, Q_W, preference bias B and accuracy of saved strategy predictions.

        Label case is normalised ("Reflection of Feelings" = "Reflection of feelings").
        """
        from affagent.strategy.data import read_predictions
        from affagent.strategy.metrics import evaluate

        gold, pred = read_predictions(predictions)
        scores = evaluate(gold, pred)
        if json_out:
            print_json({**scores.as_dict(), "data": str(predictions)})
            return
        _print_scores(scores, f"predictions in {predictions}")

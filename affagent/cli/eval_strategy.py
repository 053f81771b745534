"""``affagent eval strategy`` and ``affagent eval bias``: strategy proficiency (Q, Q_W),
preference bias (B) and accuracy, as Kang et al. (ACL 2024) measure them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from affagent.cli._common import print_json, with_progress

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


def _scorer(evaluate: Any, sel: Any, dialogues: Any, limit: int | None) -> Any:
    """``fn(tick)`` for :func:`with_progress`: score one selector."""
    return lambda tick: evaluate(sel, dialogues, limit=limit, progress=tick)


def _print_side_by_side(results: dict[str, StrategyScores], data: Path) -> None:
    """One column per selector: the headline figures, then each strategy's F1 and share."""
    names = list(results)
    width = max(12, *(len(n) + 2 for n in names))
    typer.echo(f"{len(names)} selectors on {data} (n {next(iter(results.values())).n})")
    typer.echo(f"{'':30}" + "".join(f"{n:>{width}}" for n in names))
    for label, get in (("Q (macro-F1)", lambda s: f"{s.Q:.2f}"),
                       ("Q_W", lambda s: f"{s.Q_W:.2f}"),
                       ("B (bias)", lambda s: f"{s.B:.3f}"),
                       ("accuracy", lambda s: f"{s.accuracy:.1%}")):
        typer.echo(f"{label:<30}" + "".join(f"{get(results[n]):>{width}}" for n in names))
    typer.echo("F1 / predicted share per strategy:")
    for strat in next(iter(results.values())).preference:
        cells = [f"{r.per_class_f1.get(strat, 0.0):.1f} / {r.predicted_share.get(strat, 0.0):.0%}"
                 for r in results.values()]
        typer.echo(f"{strat:<30}" + "".join(f"{c:>{width}}" for c in cells))


def register(app: typer.Typer) -> None:
    @app.command("strategy")
    def strategy(
        data: Path = typer.Option(
            ..., "--data", help="ESConv-format JSONL (e.g. esconv/valid.jsonl)."
        ),
        selector: str = typer.Option(
            "learned",
            "--selector",
            help="learned | learned-minilm | llm | prior | uniform; several, comma-separated "
            "(learned,learned-minilm), are scored side by side on the same turns.",
        ),
        bias_control: bool = typer.Option(
            True,
            "--bias-control/--no-bias-control",
            help="learned selector: balance choices against the training prior (ablation).",
        ),
        weights: Path | None = typer.Option(
            None, "--weights", help="learned selectors: a head .npz (default: the shipped one)."
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
        keys = [k.strip().lower() for k in selector.split(",") if k.strip()]
        if not keys:
            from affagent.errors import ConfigError

            raise ConfigError("--selector: name at least one selector")
        if weights is not None and sum(k.startswith("learned") for k in set(keys)) > 1:
            from affagent.errors import ConfigError

            raise ConfigError("--weights: name one learned selector, not several")
        sels = {}
        for key in dict.fromkeys(keys):  # build all first: a bad name fails before any scoring
            kw: dict[str, Any] = {}
            if key in ("learned", "learned-minilm"):
                kw = {"bias_control": bias_control, "weights": weights}
            elif key == "llm":
                from affagent.backends import configured_backend

                if constrained not in ("auto", "guided_choice", "structured_outputs", "none"):
                    from affagent.errors import ConfigError

                    raise ConfigError(f"--constrained: unknown mode {constrained!r}")
                kw = {
                    "backend": configured_backend(backend, base_url=base_url, model=model),
                    "constrained": constrained,
                }
            sels[key] = load_selector(key, **kw)
        total = sum(1 for _ in iter_examples(dialogues))
        total = min(total, limit) if limit else total
        results: dict[str, StrategyScores] = {}
        for key, sel in sels.items():
            scores, _, _ = with_progress(
                progress,
                total,
                f"{key} selector",
                _scorer(evaluate_selector, sel, dialogues, limit),
            )
            results[key] = scores
        if len(results) == 1:
            key, scores = next(iter(results.items()))
            if json_out:
                print_json({**scores.as_dict(), "selector": key, "data": str(data)})
                return
            _print_scores(scores, f"{key} selector on {data}")
            return
        if json_out:
            print_json({"selectors": {k: v.as_dict() for k, v in results.items()},
                        "data": str(data)})
            return
        _print_side_by_side(results, data)

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

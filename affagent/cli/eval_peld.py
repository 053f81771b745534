"""``affagent eval peld``: predict how a speaker answers, from their personality and the text
before their reply, through the agent's appraisal and dynamics (:mod:`affagent.evals.peld`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer

from affagent.cli._common import fail, print_json, with_progress


def register(app: typer.Typer) -> None:
    @app.command("peld")
    def peld(
        data: Path = typer.Option(
            ..., "--data", help="PELD TSV (Dyadic_PELD.tsv format: Speaker_1, Personality, "
            "Utterance_1..3, Emotion_1..3, ...)"
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the train/held-out split."),
        test_share: float = typer.Option(
            0.3, "--test-share", help="Share of conversations held out (0-1)."
        ),
        objective: str = typer.Option(
            "macro_f1", "--objective", help="What the fit maximises: macro_f1 | accuracy."
        ),
        classifier: str = typer.Option(
            "goemotions", "--classifier", help="Emotion classifier for perception, or none."
        ),
        n_boot: int = typer.Option(1000, "--boot", min=100, help="Bootstrap resamples."),
        cache: bool = typer.Option(
            True, "--cache/--no-cache", help="Reuse perception results (~/.cache/affagent/peld)."
        ),
        cache_dir: Path | None = typer.Option(
            None, "--cache-dir", help="Where perception results are cached (default: "
            "$AFFAGENT_CACHE_DIR/peld, else ~/.cache/affagent/peld)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object (last line)."),
    ) -> None:
        """Emotion of Utterance_3 from speaker 1's traits and the text of Utterances 1-2.

        Reports held-out accuracy and macro-F1 beside the always-neutral and previous-emotion
        baselines, and the personality ablation (traits set to the population mean) with a
        95 % bootstrap interval of the macro-F1 difference.

        Example: affagent eval peld --data ../shared/data/peld/Dyadic_PELD.tsv --json
        """
        import sys

        from affagent.evals.peld import (
            Objective,
            grid_size,
            perceive_cached,
            read_peld,
            run_peld,
        )
        from affagent.resources import cache_root

        if objective not in ("macro_f1", "accuracy"):
            fail(f"--objective must be macro_f1 or accuracy (got {objective!r})")
        if not 0.05 <= test_share <= 0.95:
            fail(f"--test-share must be between 0.05 and 0.95 (got {test_share})")
        ds = read_peld(data)
        texts = sorted({t for r in ds.rows for t in (r.u1, r.u2)})
        clf = None if classifier.lower() == "none" else classifier
        show = sys.stderr.isatty()
        folder = (cache_dir or cache_root() / "peld") if cache else None
        readings, cache_file, hit = with_progress(
            show, len(texts), "perception",
            lambda tick: perceive_cached(texts, data, classifier=clf, cache_dir=folder,
                                         progress=tick),
        )
        report = with_progress(
            show, grid_size(), "fitting",
            lambda tick: run_peld(ds, readings, seed=seed, test_share=test_share,
                                  objective=cast(Objective, objective), n_boot=n_boot,
                                  progress=tick),
        )
        report["data"] = str(data)
        report["perception"] = {
            "estimator": "default",
            "classifier": clf or "none",
            "cache": str(cache_file) if cache_file else None,
            "cache_hit": hit,
        }
        if as_json:
            print_json(report)
            return
        _print(report)



def _print(r: dict[str, Any]) -> None:
    c, b, a = r["config"], r["baselines"], r["ablation"]
    sk = r["skipped"]
    typer.echo(
        f"{r['data']}: {r['n_rows']} rows ({sk['count']} skipped), split by conversation "
        f"(seed {r['split']['seed']}): train {r['n_train']}, held out {r['n']}"
    )
    for line in sk["first"]:
        typer.echo(f"  skipped {line}")
    typer.echo(
        f"fitted on train ({c['objective']}): dynamics {c['dynamics']}, speaker 2 appraised as "
        f"{c['role']}, emotion weight {c['emotion_weight']}"
    )
    rows = [
        ("agent (full)", r),
        ("traits at the mean", a),
        ("always neutral", b["neutral"]),
        ("previous emotion (gold)", b["previous_emotion"]),
    ]
    typer.echo(f"{'held out':<27}accuracy  macro-F1")
    for name, m in rows:
        typer.echo(f"  {name:<25}{m['accuracy']:.3f}     {m['macro_f1']:.3f}")
    ci = a["ci"]
    ci_text = "undefined" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"
    typer.echo(f"personality gain (macro-F1, full - ablated): {a['delta_macro_f1']:+.3f}, "
               f"95% CI {ci_text}")
    typer.echo("per-class F1: " + "  ".join(f"{k} {v:.2f}" for k, v in r["per_class_f1"].items()))
    typer.echo("speakers (resting V from traits, mean V of their gold replies): " + ", ".join(
        f"{s['speaker']} {s['rest_v']:+.2f}/{s['reply_v']:+.2f}" for s in r["speakers"]))

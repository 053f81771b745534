"""``affagent eval vad`` and ``affagent eval emotions``: score perception on a data file.

Both read files in the format of ``shared/data`` (EmoBank CSV; GoEmotions TSV or
EmpatheticDialogues JSONL), so a withheld split is scored the same way as dev.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from affagent.cli._common import print_json, progress_iter


def _chunks(n: int, size: int, desc: str) -> Any:
    return progress_iter(range(0, n, size), -(-n // size), desc)


def register(app: typer.Typer) -> None:
    @app.command("vad")
    def vad(
        data: Path = typer.Option(..., "--data", help="EmoBank-format CSV: id,split,V,A,D,text"),
        estimator: str = typer.Option(
            "default", "--estimator", help="estimator name: default | lexicon"
        ),
        split: str | None = typer.Option(
            None, "--split", help="score only rows of this split (default: all)"
        ),
        lexicon: Path | None = typer.Option(
            None,
            "--lexicon",
            help="NRC VAD lexicon for --estimator lexicon (else $AFFAGENT_NRC_LEXICON)",
        ),
        batch_size: int = typer.Option(64, "--batch-size", min=1),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    ) -> None:
        """Pearson r per axis (V, A, D) of an estimator against EmoBank-style ratings.

        Example: affagent eval vad --data ../shared/data/emobank/emobank.csv --split dev --json
        """
        import numpy as np

        from affagent.perception import load_estimator
        from affagent.perception.data import read_emobank
        from affagent.perception.metrics import pearson

        items = read_emobank(data, split)
        kw: dict[str, Any] = {"path": lexicon} if estimator == "lexicon" and lexicon else {}
        est = load_estimator(estimator, **kw)
        texts = [it.text for it in items]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        p = np.zeros((len(texts), 3))
        for i in _chunks(len(texts), batch_size, f"vad[{estimator}]"):
            idx = order[i : i + batch_size]
            p[idx] = [e.vad.as_tuple() for e in est.estimate([texts[j] for j in idx])]
        g = np.array([it.vad.as_tuple() for it in items])
        r = {ax: round(pearson(p[:, k], g[:, k]), 4) for k, ax in enumerate("VAD")}
        if as_json:
            print_json({"pearson": r, "n": len(items)})
        else:
            typer.echo(
                f"{data} ({len(items)} rows{', split ' + split if split else ''}), "
                f"estimator {estimator}"
            )
            typer.echo("Pearson r: " + "  ".join(f"{k}={v:.3f}" for k, v in r.items()))

    @app.command("emotions")
    def emotions(
        data: Path = typer.Option(
            ..., "--data", help="GoEmotions TSV or EmpatheticDialogues JSONL"
        ),
        classifier: str | None = typer.Option(
            None,
            "--classifier",
            help="plugin name (default: goemotions for a TSV, empathetic for a JSONL)",
        ),
        batch_size: int = typer.Option(64, "--batch-size", min=1),
        part: str | None = typer.Option(
            None,
            "--part",
            help="EmpatheticDialogues only: score one part of the fixed conversation-grouped "
            "split of a dev file (fit | select | heldout; the shipped head never saw heldout)",
        ),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    ) -> None:
        """Macro-F1 (GoEmotions, multi-label, per-label thresholds tuned on dev at training)
        or accuracy@1/@5 (EmpatheticDialogues, 32 emotions, each row's whole dialogue read
        by a classifier that can: the built-in ``empathetic`` one).

        Example: affagent eval emotions --data ../shared/data/goemotions/dev.tsv --json
        """
        import numpy as np

        from affagent.perception import load_classifier
        from affagent.perception.data import (
            read_empathetic,
            read_goemotions,
            sniff_emotion_format,
        )
        from affagent.perception.metrics import accuracy_at_k, decide, macro_f1

        fmt = sniff_emotion_format(data)
        items = read_goemotions(data) if fmt == "goemotions" else read_empathetic(data)
        if part is not None:
            from affagent.errors import ConfigError
            from affagent.perception.data import ED_PARTS, grouped_part

            names = [p for p, _ in ED_PARTS]
            if fmt != "empathetic":
                raise ConfigError("--part applies to EmpatheticDialogues files only")
            if part not in names:
                raise ConfigError(f"--part must be one of {', '.join(names)}, not {part!r}")
            items = [it for it in items if grouped_part(it.group) == part]
        name = classifier or fmt
        clf = load_classifier(name)
        if fmt == "empathetic" and hasattr(clf, "probabilities_dialogues"):
            labels, probs = _dialogue_probabilities(
                clf, [it.context or (it.text,) for it in items], batch_size, name)
        else:
            labels, probs = _probabilities(clf, [it.text for it in items], batch_size, name)
        index = {lab: i for i, lab in enumerate(labels)}
        if fmt == "goemotions":
            from affagent.perception.data import GOEMOTIONS_LABELS

            missing = [lab for lab in GOEMOTIONS_LABELS if lab not in index]
            if missing:
                from affagent.errors import ConfigError

                raise ConfigError(
                    f"classifier {name!r} lacks GoEmotions labels: {', '.join(missing[:5])}"
                )
            cols = [index[lab] for lab in GOEMOTIONS_LABELS]
            gold = np.zeros((len(items), len(cols)), dtype=bool)
            for i, it in enumerate(items):
                for lab in it.labels:
                    gold[i, GOEMOTIONS_LABELS.index(lab)] = True
            decider = getattr(clf, "decide", None)
            if callable(decider) and list(labels) == list(GOEMOTIONS_LABELS):
                pred = decider(probs)
            else:
                pred = decide(probs[:, cols], np.full(len(cols), 0.5))
            out: dict[str, Any] = {"macro_f1": round(macro_f1(pred, gold), 4), "n": len(items)}
        else:
            y = np.array([index.get(it.labels[0], -1) for it in items])
            out = {
                "acc_at_1": round(accuracy_at_k(probs, y, 1), 4),
                "acc_at_5": round(accuracy_at_k(probs, y, 5), 4),
                "n": len(items),
            }
        if part is not None:
            out["part"] = part
        if as_json:
            print_json(out)
        else:
            typer.echo(f"{data} ({len(items)} rows{', part ' + part if part else ''}, {fmt}), "
                       f"classifier {name}")
            typer.echo("  ".join(f"{k}={v}" for k, v in out.items() if k != "n"))


def _dialogue_probabilities(clf: Any, contexts: list[tuple[str, ...]], batch_size: int,
                            name: str) -> tuple[list[str], Any]:
    """(labels, (N, K) probabilities) of whole dialogues, batched."""
    import numpy as np

    out = np.zeros((len(contexts), len(clf.labels)), dtype=np.float32)
    for i in _chunks(len(contexts), batch_size, f"emotions[{name}]"):
        out[i : i + batch_size] = clf.probabilities_dialogues(contexts[i : i + batch_size])
    return list(clf.labels), out


def _probabilities(clf: Any, texts: list[str], batch_size: int, name: str) -> tuple[list[str], Any]:
    """(labels, (N, K) probabilities) from a plugin: the fast path when it exposes
    ``probabilities``/``labels``, else from ``classify(causes=False)``."""
    import numpy as np

    if hasattr(clf, "probabilities") and hasattr(clf, "labels"):
        labels = list(clf.labels)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        out = np.zeros((len(texts), len(labels)), dtype=np.float32)
        for i in _chunks(len(texts), batch_size, f"emotions[{name}]"):
            idx = order[i : i + batch_size]
            out[idx] = clf.probabilities([texts[j] for j in idx])
        return labels, out
    results = []
    for i in _chunks(len(texts), batch_size, f"emotions[{name}]"):
        results.extend(clf.classify(texts[i : i + batch_size], causes=False))
    labels = sorted({lab for r in results for lab in r.labels})
    probs = np.array([[r.labels.get(lab, 0.0) for lab in labels] for r in results])
    return labels, probs

"""Reading strategy data: ESConv-format dialogues and prediction TSVs.

ESConv format (one dialogue per line of a JSONL file)::

    {"dialog": [{"speaker": "usr", "text": "..."},
                {"speaker": "sys", "text": "...", "strategy": "Question"}, ...], ...}

Other keys (``emotion_type``, ``problem_type``, ``situation``) are ignored: an agent does not
know them at run time. Every supporter turn after the first of a dialogue is one example: the
selector sees the dialogue before it (with the gold strategies of earlier supporter turns) and
must name its strategy.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from affagent.errors import DataFormatError
from affagent.strategy.metrics import normalise_label
from affagent.types import DialogueTurn

__all__ = ["Example", "iter_examples", "load_esconv", "read_predictions"]

_ESCONV_FIELDS = "one JSON dialogue per line with dialog: [{speaker: usr|sys, text, strategy}]"
_TSV_FIELDS = "tab-separated columns sample_id, strategy_gold, strategy_pred"


@dataclass(frozen=True)
class Example:
    """One supporter turn to predict: the dialogue before it and its gold strategy."""

    dialogue: tuple[DialogueTurn, ...]
    gold: str
    dialogue_index: int
    turn_index: int


def load_esconv(path: str | Path) -> list[list[DialogueTurn]]:
    """The dialogues of an ESConv-format JSONL file, with strategy names normalised.

    Raises :class:`DataFormatError` naming the file, the line and the expected fields.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not UTF-8 text; expected {_ESCONV_FIELDS}") from None
    out: list[list[DialogueTurn]] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            turns = obj["dialog"]
            if not isinstance(turns, list):
                raise TypeError
            dialogue = []
            for t in turns:
                speaker = t["speaker"]
                if speaker not in ("usr", "sys"):
                    raise ValueError(f"speaker {speaker!r}")
                strategy = t.get("strategy") if speaker == "sys" else None
                if speaker == "sys":
                    if not isinstance(strategy, str):
                        raise ValueError("a sys turn without strategy")
                    strategy = normalise_label(strategy)
                dialogue.append(
                    DialogueTurn(speaker=speaker, text=str(t["text"]), strategy=strategy)
                )
        except DataFormatError as exc:
            raise DataFormatError(f"{path}:{no}: {exc}") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            why = f" ({exc})" if isinstance(exc, ValueError) and str(exc) else ""
            raise DataFormatError(
                f"{path}:{no}: not an ESConv dialogue{why}; expected {_ESCONV_FIELDS}"
            ) from None
        out.append(dialogue)
    if not out:
        raise DataFormatError(f"{path}: no dialogues; expected {_ESCONV_FIELDS}")
    return out


def iter_examples(dialogues: Sequence[Sequence[DialogueTurn]]) -> Iterator[Example]:
    """Every supporter turn after the first of each dialogue, with its context."""
    for d, dialogue in enumerate(dialogues):
        seen_sys = False
        for t, turn in enumerate(dialogue):
            if turn.speaker != "sys":
                continue
            if seen_sys and turn.strategy is not None:
                yield Example(tuple(dialogue[:t]), turn.strategy, d, t)
            seen_sys = True


def read_predictions(path: str | Path) -> tuple[list[str], list[str]]:
    """``(gold, pred)`` from a TSV with columns ``sample_id, strategy_gold, strategy_pred``."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error):
        raise DataFormatError(f"{path}: not a TSV file; expected {_TSV_FIELDS}") from None
    if not rows or not {"strategy_gold", "strategy_pred"} <= set(rows[0]):
        raise DataFormatError(f"{path}: missing columns; expected {_TSV_FIELDS}")
    gold, pred = [], []
    for no, r in enumerate(rows, 2):
        try:
            gold.append(normalise_label(r["strategy_gold"] or ""))
            pred.append(normalise_label(r["strategy_pred"] or ""))
        except DataFormatError as exc:
            raise DataFormatError(f"{path}:{no}: {exc}") from None
    return gold, pred

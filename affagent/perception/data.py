"""Readers for the perception data formats (the same as the files in ``shared/data``).

Each reader checks the format up front and raises :class:`~affagent.errors.DataFormatError`
with one line naming the file and the expected columns, so ``affagent eval`` can print it as
is. No reader keeps a copy of the data anywhere.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from affagent.affect.vad import VAD
from affagent.errors import DataFormatError

EMOBANK_COLUMNS = ("id", "split", "V", "A", "D", "text")
GOEMOTIONS_COLUMNS = "text<TAB>label ids (comma-separated, 0-27)<TAB>comment id"
EMPATHETIC_COLUMNS = 'JSON lines {"context": [utterances], "emotion": label} (or "text")'

#: GoEmotions' 28 labels in id order (``emotions.txt``: id = line number).
GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip

#: The 32 EmpatheticDialogues emotions, sorted.
EMPATHETIC_LABELS: tuple[str, ...] = (
    "afraid", "angry", "annoyed", "anticipating", "anxious", "apprehensive", "ashamed",
    "caring", "confident", "content", "devastated", "disappointed", "disgusted", "embarrassed",
    "excited", "faithful", "furious", "grateful", "guilty", "hopeful", "impressed", "jealous",
    "joyful", "lonely", "nostalgic", "prepared", "proud", "sad", "sentimental", "surprised",
    "terrified", "trusting",
)  # fmt: skip

#: How the utterances of an EmpatheticDialogues context are joined into one text.
CONTEXT_SEPARATOR = " "


@dataclass(frozen=True, slots=True)
class VADItem:
    id: str
    split: str
    text: str
    vad: VAD  # on −1..+1


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    labels: tuple[str, ...]
    group: str = ""  # items sharing a group come from one dialogue (for grouped CV)
    context: tuple[str, ...] = ()  # the dialogue's utterances, in order (EmpatheticDialogues)


#: The fixed EmpatheticDialogues dev split: only ED dev is available, so it is cut by
#: conversation into a part to fit on, a part to select on and a held-out part to report.
ED_PARTS: tuple[tuple[str, float], ...] = (("fit", 0.6), ("select", 0.2), ("heldout", 0.2))
ED_SPLIT_SEED = 13


def grouped_part(group: str, seed: int = ED_SPLIT_SEED,
                 parts: tuple[tuple[str, float], ...] = ED_PARTS) -> str:
    """Which part of the split a conversation falls in: a hash of its group key and the seed
    (so the split does not depend on the file's order, and every row of a conversation lands
    in the same part)."""
    import hashlib

    h = hashlib.sha256(f"{seed}|{group}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    edge = 0.0
    for name, share in parts:
        edge += share
        if u < edge:
            return name
    return parts[-1][0]


def _bad(path: Path, expected: str, why: str) -> DataFormatError:
    return DataFormatError(f"{path}: {why}; expected {expected}")


def _open(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataFormatError(f"{p}: no such file")
    return p


def read_emobank(path: str | Path, split: str | None = None) -> list[VADItem]:
    """EmoBank CSV ``id,split,V,A,D,text`` (1–5 ratings, converted to −1..+1).

    ``split`` keeps only rows of that split (``train``/``dev``/``test``); None keeps all."""
    p = _open(path)
    expected = "CSV columns " + ",".join(EMOBANK_COLUMNS)
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            missing = [c for c in EMOBANK_COLUMNS if c not in cols]
            if missing:
                raise _bad(p, expected, f"missing column(s) {','.join(missing)}")
            items = []
            for i, row in enumerate(reader, start=2):
                if split is not None and row["split"] != split:
                    continue
                try:
                    vad = VAD.from_emobank(float(row["V"]), float(row["A"]), float(row["D"]))
                except (TypeError, ValueError):
                    raise _bad(p, expected, f"line {i}: V,A,D are not numbers") from None
                items.append(VADItem(row["id"], row["split"], row["text"] or "", vad))
    except UnicodeDecodeError:
        raise _bad(p, expected, "not UTF-8 text") from None
    if not items:
        raise _bad(p, expected, "no rows" + (f" with split={split!r}" if split else ""))
    return items


def read_goemotions(path: str | Path) -> list[LabelledText]:
    """GoEmotions TSV ``text<TAB>ids<TAB>comment id`` (no header; ids index
    :data:`GOEMOTIONS_LABELS`)."""
    p = _open(path)
    items = []
    try:
        with p.open(encoding="utf-8") as f:
            for i, line in enumerate(f, start=1):
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                parts = line.split("\t")
                if len(parts) != 3:
                    raise _bad(p, GOEMOTIONS_COLUMNS, f"line {i} has {len(parts)} field(s)")
                try:
                    ids = [int(x) for x in parts[1].split(",")]
                except ValueError:
                    raise _bad(p, GOEMOTIONS_COLUMNS, f"line {i}: bad label ids") from None
                if any(not 0 <= k < len(GOEMOTIONS_LABELS) for k in ids):
                    raise _bad(p, GOEMOTIONS_COLUMNS, f"line {i}: label id out of range")
                items.append(
                    LabelledText(parts[0], tuple(GOEMOTIONS_LABELS[k] for k in ids), parts[2])
                )
    except UnicodeDecodeError:
        raise _bad(p, GOEMOTIONS_COLUMNS, "not UTF-8 text") from None
    if not items:
        raise _bad(p, GOEMOTIONS_COLUMNS, "no rows")
    return items


def read_empathetic(path: str | Path) -> list[LabelledText]:
    """EmpatheticDialogues JSONL: ``{"context": [...], "emotion": ...}`` per line (the
    utterances are joined with a space) or ``{"text": ..., "emotion": ...}``. Rows that share
    their first utterance come from one dialogue and share a ``group``."""
    p = _open(path)
    items = []
    try:
        with p.open(encoding="utf-8") as f:
            for i, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise _bad(p, EMPATHETIC_COLUMNS, f"line {i} is not JSON") from None
                if not isinstance(row, dict) or "emotion" not in row:
                    raise _bad(p, EMPATHETIC_COLUMNS, f"line {i} has no 'emotion'")
                if isinstance(row.get("context"), list):
                    utts = [str(u) for u in row["context"]]
                elif isinstance(row.get("text"), str):
                    utts = [row["text"]]
                else:
                    raise _bad(p, EMPATHETIC_COLUMNS, f"line {i} has no 'context' or 'text'")
                label = str(row["emotion"])
                if label not in EMPATHETIC_LABELS:
                    raise _bad(p, EMPATHETIC_COLUMNS, f"line {i}: unknown emotion {label!r}")
                group = utts[0] if utts else ""
                items.append(LabelledText(CONTEXT_SEPARATOR.join(utts), (label,), group,
                                          tuple(utts)))
    except UnicodeDecodeError:
        raise _bad(p, EMPATHETIC_COLUMNS, "not UTF-8 text") from None
    if not items:
        raise _bad(p, EMPATHETIC_COLUMNS, "no rows")
    return items


EmotionFormat = Literal["goemotions", "empathetic"]


def sniff_emotion_format(path: str | Path) -> EmotionFormat:
    """Tell a GoEmotions TSV from an EmpatheticDialogues JSONL by the first non-empty line."""
    p = _open(path)
    try:
        with p.open(encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
    except UnicodeDecodeError:
        first = ""
    s = first.strip()
    if s.startswith("{"):
        return "empathetic"
    if s.count("\t") == 2:
        return "goemotions"
    raise DataFormatError(
        f"{p}: not an emotion data file; expected a GoEmotions TSV ({GOEMOTIONS_COLUMNS}) "
        f"or an EmpatheticDialogues JSONL ({EMPATHETIC_COLUMNS})"
    )

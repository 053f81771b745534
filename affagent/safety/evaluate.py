"""Precision and recall of a risk detector on a labelled file, overall and per kind.

Two formats. JSONL, one object per line::

    {"id": "heldout-088", "text": "the pills are all counted out now", "label": "self_harm",
     "kind": "context", "history": ["I can't see this getting better", "..."]}

``label`` is ``self_harm``, ``violence``, ``risk`` (either) or ``none``; ``kind`` is free text
for the per-kind breakdown; ``history`` (optional) holds the user's previous messages, oldest
first, passed to ``assess(text, history)``.

TSV with a header line naming at least ``label`` and ``text`` (any order): labels ``risk`` /
``safe``; optional ``kind``, ``id`` and ``history`` columns (history turns separated by
``|||``). This is the format a third-party or withheld set is most easily written in.

The headline figures treat any risk label as positive (what matters first is that a crisis is
not missed); per-category figures also need the category right (``risk`` items count for
neither category).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from affagent.errors import DataFormatError
from affagent.safety.detector import CATEGORIES
from affagent.safety.guard import RiskDetector

LABELS = ("none", "risk", *CATEGORIES)
_TSV_LABELS: dict[str, str] = {"risk": "risk", "safe": "none", "none": "none",
                               "self_harm": "self_harm", "violence": "violence"}
HISTORY_SEP = "|||"


class SafetyItem(BaseModel):
    id: str
    text: str
    label: str
    kind: str = ""
    history: list[str] = Field(default_factory=list)

    @property
    def positive(self) -> bool:
        return self.label != "none"


def _history(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(h, str) for h in value):
        return list(value)
    raise DataFormatError(f"{where}: 'history' must be a list of strings")


def _load_jsonl(p: Path, text: str) -> list[SafetyItem]:
    items: list[SafetyItem] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{p}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise DataFormatError(f"{p}:{n}: expected an object with a 'text' string")
        if obj.get("label") not in LABELS:
            raise DataFormatError(
                f"{p}:{n}: label must be one of {', '.join(LABELS)} (got {obj.get('label')!r})"
            )
        items.append(
            SafetyItem(
                id=str(obj.get("id", f"line-{n}")),
                text=obj["text"],
                label=obj["label"],
                kind=str(obj.get("kind", "")),
                history=_history(obj.get("history"), f"{p}:{n}"),
            )
        )
    return items


def _load_tsv(p: Path, text: str) -> list[SafetyItem]:
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "label" not in cols or "text" not in cols:
        raise DataFormatError(
            f"{p}:1: a TSV needs a header line with 'label' and 'text' columns (got "
            f"{', '.join(cols) or 'nothing'})"
        )
    reader.fieldnames = cols
    items: list[SafetyItem] = []
    for n, row in enumerate(reader, 2):
        txt, lab = (row.get("text") or "").strip(), (row.get("label") or "").strip().lower()
        if not txt and not lab:
            continue
        if lab not in _TSV_LABELS:
            raise DataFormatError(f"{p}:{n}: label must be risk or safe (got {lab!r})")
        if not txt:
            raise DataFormatError(f"{p}:{n}: empty text")
        hist = [h.strip() for h in (row.get("history") or "").split(HISTORY_SEP) if h.strip()]
        items.append(
            SafetyItem(
                id=(row.get("id") or "").strip() or f"line-{n}",
                text=txt,
                label=_TSV_LABELS[lab],
                kind=(row.get("kind") or "").strip(),
                history=hist,
            )
        )
    return items


def load_items(path: str | Path) -> list[SafetyItem]:
    """Read and check a JSONL or TSV evaluation file (errors name the file and the line).
    A file whose first line is not a JSON object is read as TSV."""
    p = Path(path)
    if not p.is_file():
        raise DataFormatError(f"{p}: file not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(f"{p}: not UTF-8 text") from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    items = _load_jsonl(p, text) if first.lstrip().startswith("{") else _load_tsv(p, text)
    if not items:
        raise DataFormatError(f"{p}: no items")
    return items


def _pr(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


class KindStats(BaseModel):
    """One kind of item: how many, how many are risk, how many were flagged."""

    n: int
    positives: int
    flagged: int
    recall: float | None = Field(description="flagged share of the risk items; None if none")
    false_alarm_rate: float | None = Field(
        description="flagged share of the safe items; None if none"
    )
    flag_rate: float


class SafetyReport(BaseModel):
    n: int
    positives: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    flag_rate: float
    per_category: dict[str, dict[str, float]]
    per_kind: dict[str, KindStats]
    flag_rate_by_kind: dict[str, dict[str, float]] = Field(
        description="share of items of each (label, kind) that were flagged"
    )
    misses: list[dict[str, Any]]
    false_alarms: list[dict[str, Any]]

    def meets(self, recall: float = 0.95, precision: float = 0.9) -> bool:
        return self.recall >= recall and self.precision >= precision


def evaluate(
    detector: RiskDetector,
    items: Iterable[SafetyItem],
    *,
    progress: Callable[[int], None] | None = None,
) -> SafetyReport:
    """Run ``detector.assess(text, history)`` on every item and count."""
    items = list(items)
    tp = fp = fn = tn = 0
    cat: dict[str, dict[str, int]] = {c: defaultdict(int) for c in CATEGORIES}
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n, pos, tp, fp
    by_label_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    for it in items:
        a = detector.assess(it.text, it.history)
        if progress is not None:
            progress(1)
        pos = it.positive
        k = kinds[it.kind or it.label]
        k[0] += 1
        k[1] += int(pos)
        k[2] += int(pos and a.flagged)
        k[3] += int(not pos and a.flagged)
        lk = by_label_kind[f"{it.label}/{it.kind}" if it.kind else it.label]
        lk[0] += int(a.flagged)
        lk[1] += 1
        rules = [h.rule for h in a.hits]
        if pos and a.flagged:
            tp += 1
        elif a.flagged:
            fp += 1
            alarms.append({"id": it.id, "text": it.text, "kind": it.kind, "rules": rules,
                           "history": it.history})
        elif pos:
            fn += 1
            misses.append({"id": it.id, "text": it.text, "label": it.label, "kind": it.kind,
                           "history": it.history})
        else:
            tn += 1
        for c in CATEGORIES:
            if it.label == "risk":
                continue
            got, want = a.flagged and a.category == c, it.label == c
            cat[c]["tp" if got and want else "fp" if got else "fn" if want else "tn"] += 1
    pr = _pr(tp, fp, fn)
    per_kind = {}
    for name, (n, npos, ktp, kfp) in sorted(kinds.items()):
        nneg = n - npos
        per_kind[name] = KindStats(
            n=n,
            positives=npos,
            flagged=ktp + kfp,
            recall=round(ktp / npos, 4) if npos else None,
            false_alarm_rate=round(kfp / nneg, 4) if nneg else None,
            flag_rate=round((ktp + kfp) / n, 4),
        )
    return SafetyReport(
        n=len(items),
        positives=tp + fn,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=pr["precision"],
        recall=pr["recall"],
        f1=pr["f1"],
        flag_rate=round((tp + fp) / len(items), 4) if items else 0.0,
        per_category={
            c: {**_pr(v["tp"], v["fp"], v["fn"]), "support": v["tp"] + v["fn"]}
            for c, v in cat.items()
        },
        per_kind=per_kind,
        flag_rate_by_kind={
            k: {"flagged": v[0], "n": v[1], "rate": round(v[0] / v[1], 4)}
            for k, v in sorted(by_label_kind.items())
        },
        misses=misses,
        false_alarms=alarms,
    )

"""Precision and recall of a risk detector on a labelled JSONL file.

Format, one object per line::

    {"id": "dev-001", "text": "I want to kill myself.", "label": "self_harm", "kind": "explicit"}

``label`` is ``self_harm``, ``violence`` or ``none``; ``kind`` is free text used to break
recall down (``explicit``, ``indirect``, ``hard_negative``, ``negated``, ``third_party``,
``distress``). The headline figures treat any risk label as positive (what matters first is
that a crisis is not missed); per-category figures also need the category right.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from affagent.errors import DataFormatError
from affagent.safety.detector import CATEGORIES
from affagent.safety.guard import RiskDetector

LABELS = ("none", *CATEGORIES)


class SafetyItem(BaseModel):
    id: str
    text: str
    label: str
    kind: str = ""


def load_items(path: str | Path) -> list[SafetyItem]:
    """Read and check a JSONL evaluation file (errors name the file and the line)."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"{p}: file not found")
    items: list[SafetyItem] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
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
            )
        )
    if not items:
        raise DataFormatError(f"{p}: no items")
    return items


def _pr(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


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
    per_category: dict[str, dict[str, float]]
    flag_rate_by_kind: dict[str, dict[str, float]] = Field(
        description="share of items of each (label, kind) that were flagged"
    )
    misses: list[dict[str, Any]]
    false_alarms: list[dict[str, Any]]

    def meets(self, recall: float = 0.95, precision: float = 0.8) -> bool:
        return self.recall >= recall and self.precision >= precision


def evaluate(detector: RiskDetector, items: Iterable[SafetyItem]) -> SafetyReport:
    items = list(items)
    tp = fp = fn = tn = 0
    cat = {c: Counter[str]() for c in CATEGORIES}
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    for it in items:
        a = detector.assess(it.text)
        pos = it.label != "none"
        k = kinds[f"{it.label}/{it.kind}" if it.kind else it.label]
        k[0] += int(a.flagged)
        k[1] += 1
        if pos and a.flagged:
            tp += 1
        elif a.flagged:
            fp += 1
            alarms.append({"id": it.id, "text": it.text, "rules": [h.rule for h in a.hits]})
        elif pos:
            fn += 1
            misses.append({"id": it.id, "text": it.text, "label": it.label, "kind": it.kind})
        else:
            tn += 1
        for c in CATEGORIES:
            got, want = a.flagged and a.category == c, it.label == c
            cat[c]["tp" if got and want else "fp" if got else "fn" if want else "tn"] += 1
    pr = _pr(tp, fp, fn)
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
        per_category={
            c: {**_pr(v["tp"], v["fp"], v["fn"]), "support": v["tp"] + v["fn"]}
            for c, v in cat.items()
        },
        flag_rate_by_kind={
            k: {"flagged": v[0], "n": v[1], "rate": round(v[0] / v[1], 4)}
            for k, v in sorted(kinds.items())
        },
        misses=misses,
        false_alarms=alarms,
    )

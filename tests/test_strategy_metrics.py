from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affagent.errors import DataFormatError
from affagent.strategy.metrics import (
    STRATEGY_NAMES,
    bradley_terry,
    confusion_matrix,
    evaluate,
    normalise_label,
)


def test_reproduces_kang2024_reference_figures(shared_data: Path) -> None:
    with (shared_data / "kang2024" / "predictions.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    r = evaluate([x["strategy_gold"] for x in rows], [x["strategy_pred"] for x in rows])
    assert r.n == 1611
    assert round(r.Q, 2) == 21.89
    assert round(r.Q_W, 2) == 22.50
    assert round(r.B, 3) == 0.767
    # the paper's finding: the LLM prefers Affirmation and Suggestions
    top2 = sorted(r.preference, key=r.preference.__getitem__)[-2:]
    assert set(top2) == {"Affirmation and Reassurance", "Providing Suggestions"}
    assert sum(r.preference.values()) == pytest.approx(8.0)


def test_f1_matches_scikit_learn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    gold = list(rng.choice(STRATEGY_NAMES, 300))
    pred = list(rng.choice(STRATEGY_NAMES[:5], 300))
    r = evaluate(gold, pred)
    kw = {"labels": list(STRATEGY_NAMES), "zero_division": 0}
    q, q_w = r.Q, r.Q_W
    assert q == pytest.approx(100 * sk.f1_score(gold, pred, average="macro", **kw))
    assert q_w == pytest.approx(100 * sk.f1_score(gold, pred, average="weighted", **kw))
    assert r.accuracy == pytest.approx(sk.accuracy_score(gold, pred))


def test_evenly_spread_errors_have_no_bias() -> None:
    w = np.ones((8, 8), dtype=int) * 5
    assert bradley_terry(w) == pytest.approx(np.ones(8))
    gold, pred = [], []
    for i, g in enumerate(STRATEGY_NAMES):
        for j, p in enumerate(STRATEGY_NAMES):
            gold += [g] * (3 if i != j else 10)
            pred += [p] * (3 if i != j else 10)
    assert pytest.approx(0.0, abs=1e-9) == evaluate(gold, pred).B


def test_always_predicting_one_strategy_is_maximally_preferred() -> None:
    gold = [s for s in STRATEGY_NAMES for _ in range(10)]
    r = evaluate(gold, ["Question"] * len(gold))
    assert max(r.preference, key=r.preference.__getitem__) == "Question"
    assert r.B > 1.0
    assert r.Q < 5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=200))
def test_metric_ranges(pairs: list[tuple[int, int]]) -> None:
    gold = [STRATEGY_NAMES[g] for g, _ in pairs]
    pred = [STRATEGY_NAMES[p] for _, p in pairs]
    r = evaluate(gold, pred)
    assert 0 <= r.Q <= 100 and 0 <= r.Q_W <= 100 and 0 <= r.accuracy <= 1
    assert r.B >= 0 and all(np.isfinite(list(r.preference.values())))
    assert sum(r.preference.values()) == pytest.approx(8.0)
    assert confusion_matrix(gold, pred).sum() == len(pairs)


def test_label_normalisation() -> None:
    assert normalise_label("reflection of Feelings") == "Reflection of feelings"
    assert normalise_label("[Question] ") == "Question"
    with pytest.raises(DataFormatError, match="unknown strategy 'Hugging'"):
        normalise_label("Hugging")

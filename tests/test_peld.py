"""``affagent eval peld``: reading PELD (bad rows counted, never dropped silently), the
conversation split, the evaluation core on synthetic perception, and the command on a slice of
the real file with the real perception models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from affagent.cli import app
from affagent.errors import DataFormatError
from affagent.evals.peld import (
    CLASSES,
    PeldData,
    PeldRow,
    Readings,
    conversations,
    macro_f1,
    read_peld,
    run_peld,
    split_rows,
)

HEADER = ("Speaker_1\tSpeaker_2\tPersonality\tUtterance_1\tUtterance_2\tUtterance_3\t"
          "Emotion_1\tEmotion_2\tEmotion_3\tSentiment_1\tSentiment_2\tSentiment_3")


def _line(u1: str, u2: str, u3: str, e1: str = "neutral", e3: str = "neutral",
          traits: str = "[0.6, 0.4, 0.5, 0.5, 0.5]", speaker: str = "Ross") -> str:
    return "\t".join([speaker, "Rachel", traits, u1, u2, u3, e1, "neutral", e3,
                      "neutral", "neutral", "neutral"])


def test_bad_rows_are_counted_with_their_reason(tmp_path: Path) -> None:
    f = tmp_path / "peld.tsv"
    f.write_text("\n".join([
        HEADER,
        _line("a", "b", "c"),
        _line("c", "d", "e", traits="[0.6, 0.4, 0.5]"),
        _line("e", "f", "g", traits="[0.6, 0.4, 0.5, 0.5, 1.7]"),
        _line("g", "h", "i", e3="bored"),
        _line("", "h", "i"),
        "Ross\tRachel\ttoo few",
        _line("i", "j", "k", traits="not a list"),
        "",
    ]) + "\n")
    data = read_peld(f)
    assert len(data.rows) == 1
    reasons = dict(data.skipped)
    assert len(reasons) == 6
    assert "5 numbers" in reasons[3] and "outside 0-1" in reasons[4]
    assert "'bored'" in reasons[5] and "Utterance_1 is empty" in reasons[6]
    assert "3 fields" in reasons[7] and "not a list" in reasons[8]


def test_wrong_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        read_peld(tmp_path / "nope.tsv")
    f = tmp_path / "other.tsv"
    f.write_text("text\tlabel\nhello\tjoy\n")
    with pytest.raises(DataFormatError, match="missing column"):
        read_peld(f)


def _row(i: int, u1: str, u2: str, u3: str, e3: str, traits: tuple[float, ...],
         speaker: str = "A", e1: str = "neutral") -> PeldRow:
    return PeldRow(i, speaker, traits, u1, u2, u3, e1, e3)  # type: ignore[arg-type]


def test_conversations_chain_rows_and_the_split_keeps_them_whole() -> None:
    t = (0.5,) * 5
    rows = [_row(1, "a", "b", "c", "joy", t), _row(2, "c", "d", "e", "joy", t),
            _row(3, "x", "y", "z", "joy", t), _row(4, "z", "w", "v", "joy", t, speaker="B")]
    assert conversations(rows) == [0, 0, 1, 2]
    many = [_row(i, f"u{i}", "b", f"u{i + 1}" if i % 5 else "end", "joy", t) for i in range(500)]
    held = split_rows(many, seed=3, test_share=0.3)
    assert np.array_equal(held, split_rows(many, seed=3, test_share=0.3))
    assert not np.array_equal(held, split_rows(many, seed=4, test_share=0.3))
    conv = np.array(conversations(many))
    for c in set(conv.tolist()):
        assert len(set(held[conv == c].tolist())) == 1  # never split inside a conversation
    assert 0.15 < held.mean() < 0.45


def _synthetic(n: int = 450, seed: int = 0) -> tuple[PeldData, Readings]:
    """Speaker 1 answers with the feeling of what speaker 2 said (joy / sadness / anger /
    neutral), readable from the perceived VAD of Utterance_2; three speakers with different
    traits."""
    rng = np.random.default_rng(seed)
    kinds = {"joy": (0.7, 0.4, 0.3), "sadness": (-0.6, -0.3, -0.3),
             "anger": (-0.5, 0.6, 0.3), "neutral": (0.0, 0.0, 0.0)}
    speakers = {"A": (0.6, 0.4, 0.5, 0.5, 0.5), "B": (0.4, 0.6, 0.3, 0.7, 0.3),
                "C": (0.7, 0.5, 0.6, 0.4, 0.6)}
    rows, texts, vads = [], [], []
    for i in range(n):
        kind = list(kinds)[int(rng.integers(4))]
        sp = list(speakers)[i % 3]
        u1, u2 = f"own {i}", f"other {i}"
        rows.append(_row(i + 2, u1, u2, f"reply {i}", kind, speakers[sp], speaker=sp,
                         e1=kind if rng.random() < 0.5 else "neutral"))
        texts += [u1, u2]
        vads += [rng.normal(0, 0.2, 3), np.array(kinds[kind]) + rng.normal(0, 0.1, 3)]
    return PeldData(rows, [(5, "bad row")]), Readings(
        texts, np.clip(np.array(vads), -1, 1), np.zeros((len(texts), 0)), ()
    )


def test_run_peld_reports_the_contract_and_learns_a_clear_signal() -> None:
    data, readings = _synthetic()
    grid = {"dynamics_grid": ("stateless", "first:0.6"), "roles": ("contagion",)}
    rep = run_peld(data, readings, seed=1, n_boot=200, **grid)  # type: ignore[arg-type]
    assert set(rep) >= {"n", "split", "accuracy", "macro_f1", "baselines", "ablation", "config",
                        "skipped"}
    assert rep["skipped"] == {"count": 1, "first": ["line 5: bad row"]}
    assert rep["split"]["seed"] == 1 and rep["split"]["test"] == rep["n"]
    assert rep["n"] + rep["n_train"] == 450
    assert set(rep["baselines"]) == {"neutral", "previous_emotion"}
    for b in rep["baselines"].values():
        assert set(b) == {"accuracy", "macro_f1"}
    abl = rep["ablation"]
    assert set(abl) >= {"accuracy", "macro_f1", "delta_macro_f1", "ci"}
    assert abl["ci"][0] <= abl["delta_macro_f1"] <= abl["ci"][1]
    # the signal is in speaker 2's words: the agent's appraisal + dynamics + map find it
    assert rep["accuracy"] > 0.8 > rep["baselines"]["neutral"]["accuracy"]
    assert rep["macro_f1"] > rep["baselines"]["previous_emotion"]["macro_f1"]
    assert rep["config"]["dynamics"] in ("stateless", "first:0.6")
    assert rep == run_peld(data, readings, seed=1, n_boot=200, **grid)  # type: ignore[arg-type]


def test_macro_f1_matches_scikit_learn() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 7, 300), rng.integers(0, 6, 300)
    assert macro_f1(y, p) == pytest.approx(
        f1_score(y, p, average="macro", labels=list(range(len(CLASSES))), zero_division=0)
    )


def test_cli_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from affagent.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["eval", "peld", "--data", str(tmp_path / "nope.tsv")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not found" in err and "Traceback" not in err


@pytest.mark.slow
def test_eval_peld_on_real_rows_with_the_real_models(shared_data: Path, tmp_path: Path) -> None:
    """The command end to end on the first 240 rows of the real file (plus one broken row):
    the shipped estimator and classifier read the text, the cache makes the re-run skip
    them."""
    src = shared_data / "peld" / "Dyadic_PELD.tsv"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    lines = src.read_text(encoding="utf-8").splitlines()
    f = tmp_path / "slice.tsv"
    f.write_text("\n".join([*lines[:241], "Ross\tbroken row"]) + "\n", encoding="utf-8")
    args = ["eval", "peld", "--data", str(f), "--boot", "200", "--json",
            "--cache-dir", str(tmp_path / "cache")]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    rep = json.loads(first.output.strip().splitlines()[-1])
    assert rep["n_rows"] == 240 and rep["skipped"]["count"] == 1
    assert rep["perception"]["cache_hit"] is False
    assert 0.0 <= rep["macro_f1"] <= 1.0 and rep["ablation"]["ci"] is not None
    again = CliRunner().invoke(app, args)
    rep2 = json.loads(again.output.strip().splitlines()[-1])
    assert rep2["perception"]["cache_hit"] is True
    assert {k: v for k, v in rep2.items() if k != "perception"} == {
        k: v for k, v in rep.items() if k != "perception"
    }

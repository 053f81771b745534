"""The NRC lexicon estimator (a user-supplied file; the lexicon is never shipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from affagent.errors import ConfigError, DataFormatError
from affagent.perception import load_estimator
from affagent.perception.estimators import LexiconVADEstimator, read_nrc_lexicon


@pytest.fixture()
def lexicon(tmp_path: Path) -> Path:
    p = tmp_path / "lex.txt"
    p.write_text("Word\tValence\tArousal\tDominance\nhappy\t1.0\t0.75\t0.5\n"
                 "sad\t0.0\t0.25\t0.25\ndon't\t0.4\t0.5\t0.5\n")
    return p


def test_mean_of_known_words_and_coverage(lexicon: Path) -> None:
    est = load_estimator("lexicon", path=lexicon)
    happy, mixed, unknown, empty = est.estimate(["Happy!", "happy sad dog cat", "zzz", "  "])
    assert (happy.V, happy.A, happy.D, happy.confidence) == (1.0, 0.5, 0.0, 1.0)
    assert pytest.approx(0.0) == mixed.V and mixed.confidence == pytest.approx(0.5)
    assert unknown.confidence == 0.0 and unknown.V == 0.0
    assert empty.confidence == 0.0
    assert pytest.approx(-0.2) == est.estimate(["I don't"])[0].V


def test_env_var_and_missing(lexicon: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFAGENT_NRC_LEXICON", str(lexicon))
    assert isinstance(load_estimator("lexicon"), LexiconVADEstimator)
    monkeypatch.delenv("AFFAGENT_NRC_LEXICON")
    with pytest.raises(ConfigError, match="AFFAGENT_NRC_LEXICON"):
        load_estimator("lexicon")
    with pytest.raises(ConfigError, match="not found"):
        load_estimator("lexicon", path=lexicon.parent / "nope.txt")


def test_bad_lexicon_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.txt"
    p.write_text("word,valence\nhappy,1\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt.*Word, Valence, Arousal, Dominance"):
        read_nrc_lexicon(str(p))


def test_real_nrc_lexicon(shared_data: Path) -> None:
    est = LexiconVADEstimator(shared_data / "nrc_vad" / "NRC-VAD-Lexicon.txt")
    assert len(est.lexicon) > 19000
    good, bad = est.estimate(["What a wonderful, happy day", "a horrible, terrifying murder"])
    assert good.V > 0.4 > -0.2 > bad.V
    assert bad.A > good.A - 0.3  # violence is at least about as arousing

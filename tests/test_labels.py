from __future__ import annotations

import pytest

from affagent.affect.labels import ALIASES, describe, expected_vad, label_vad, mixture, prototypes
from affagent.affect.vad import VAD


def test_table_loaded_and_cleaned() -> None:
    terms = {p.term for p in prototypes()}
    assert len(terms) == 151
    assert {"excited", "capable", "upset", "defiant"} <= terms
    assert not any(t.startswith("iii") for t in terms)


def test_mixture_is_a_distribution_and_finds_prototypes() -> None:
    full = mixture(VAD(-0.51, 0.59, 0.25), top_k=None)
    assert sum(p for _, p in full) == pytest.approx(1.0)
    top = [t for t, _ in mixture(label_vad("angry"), top_k=5)]
    assert any(t in {"angry", "hostile", "enraged", "irritated", "cruel"} for t in top)
    happy_top = [t for t, _ in mixture(label_vad("happy"), top_k=8)]
    assert not set(happy_top) & {"angry", "sad", "depressed"}


def test_label_to_vad_for_classifier_labels() -> None:
    for name in [*ALIASES, "neutral", "Angry"]:
        label_vad(name)
    assert label_vad("neutral") == VAD()
    assert label_vad("joy").v > 0 > label_vad("sadness").v
    with pytest.raises(KeyError):
        label_vad("not-an-emotion")


def test_expected_vad() -> None:
    v = expected_vad({"joy": 0.5, "sadness": 0.5, "bogus": 1.0})
    j, s = label_vad("joy"), label_vad("sadness")
    assert v.v == pytest.approx((j.v + s.v) / 2)
    assert expected_vad({}) == VAD()


def test_describe() -> None:
    assert describe(VAD()) == "calm and neutral"
    words = describe(VAD(-0.6, 0.5, 0.2), VAD(0.1, 0.0, 0.0))
    assert "calming down" in words


def test_describe_uses_everyday_words() -> None:
    from affagent.affect.labels import DESCRIPTIVE_TERMS, prototypes

    assert {p.term for p in prototypes()} >= DESCRIPTIVE_TERMS
    for v in (-0.8, -0.4, 0.2, 0.5, 0.9):
        for a in (-0.6, 0.0, 0.6):
            words = describe(VAD(v, a, 0.1))
            assert "reprehensible" not in words and "sinful" not in words
    assert describe(VAD(-0.9, 0.6, 0.3)).startswith("strongly")

"""Prompt hints from a classifier result, and the plugin registry."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

import affagent.perception as perception
from affagent.errors import ConfigError
from affagent.perception import format_hints, load_classifier, load_estimator
from affagent.types import EmotionClassifier, EmotionResult


def test_format_hints() -> None:
    r = EmotionResult(label_set="goemotions",
                      labels={"sadness": 0.71, "fear": 0.2, "joy": 0.01, "grief": 0.3},
                      causes=[("miss", 1.9), ("alone", 0.8)])
    text = format_hints(r, k=3)
    assert text.splitlines()[0] == "Likely emotions: sadness (0.71), grief (0.30), fear (0.20)."
    assert '"miss", "alone"' in text
    assert "joy" not in format_hints(r, k=4)  # below min_prob
    assert format_hints(EmotionResult()) == "" and format_hints(None) == ""
    no_causes = format_hints(EmotionResult(labels={"neutral": 0.9}))
    assert no_causes == "Likely emotions: neutral (0.90)."


class FakeClassifier:
    name = "fake"
    label_set = "fake"

    def __init__(self, **kw: Any) -> None:
        self.kw = kw

    def classify(self, texts: Sequence[str], *, causes: bool = True) -> list[EmotionResult]:
        return [EmotionResult(label_set="fake", labels={"calm": 1.0}) for _ in texts]


def make_fake(**kw: Any) -> FakeClassifier:
    return FakeClassifier(**kw)


def test_entry_point_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = SimpleNamespace(name="fake", value=f"{__name__}:make_fake")
    monkeypatch.setattr(perception, "entry_points",
                        lambda group: [ep] if group == "affagent.classifiers" else [])
    clf = load_classifier("fake", threshold=0.3)
    assert isinstance(clf, EmotionClassifier) and clf.kw == {"threshold": 0.3}  # type: ignore
    assert "fake" in perception.classifier_names() and "goemotions" in perception.classifier_names()


def test_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"unknown classifier 'nope'.*goemotions"):
        load_classifier("nope")
    with pytest.raises(ConfigError, match=r"unknown estimator 'nope'.*lexicon"):
        load_estimator("nope")


def test_broken_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = SimpleNamespace(name="broken", value="affagent.no_such_module:factory")
    monkeypatch.setattr(perception, "entry_points", lambda group: [ep])
    with pytest.raises(ImportError, match="failed to load"):  # the agent falls back on this
        load_classifier("broken")


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, affagent.perception, affagent.perception.data, "
            "affagent.cli.eval_perception; "
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

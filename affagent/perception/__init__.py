"""Perception: what the user's text says about their affect.

- :func:`load_estimator` gives a :class:`~affagent.types.VADEstimator`: ``"default"`` (the
  all-MiniLM-L6-v2 encoder with a head fine-tuned on EmoBank, shipped) or ``"lexicon"`` (the
  NRC VAD lexicon, from a path you supply: ``path=`` or ``$AFFAGENT_NRC_LEXICON``).
- :func:`load_classifier` gives an :class:`~affagent.types.EmotionClassifier` plugin found in
  the ``affagent.classifiers`` entry-point group: ``"goemotions"`` (28 labels, default) and
  ``"empathetic"`` (32 EmpatheticDialogues emotions) ship; ``"hf"`` wraps any local Hugging
  Face sequence-classification model (``model_path=``).
- :func:`format_hints` turns a classifier result into prompt text.

Models load lazily on first use and are cached per process; the default estimator and the
built-in classifiers share one encoder pass per text.

Example::

    from affagent.perception import load_estimator, load_classifier, format_hints
    est, clf = load_estimator(), load_classifier()
    est.estimate(["I lost my job today."])[0]          # VADEstimate(V=-0.4, A=0.1, ...)
    print(format_hints(clf.classify(["I lost my job today."])[0]))
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from affagent.errors import ConfigError
from affagent.perception.hints import format_hints
from affagent.types import EmotionClassifier, VADEstimator

ENTRY_POINT_GROUP = "affagent.classifiers"

#: Built-in classifier factories (also declared as entry points in pyproject.toml; listed here
#: so a source checkout works before it is installed).
BUILTIN_CLASSIFIERS: dict[str, str] = {
    "goemotions": "affagent.perception.classifiers:goemotions",
    "empathetic": "affagent.perception.classifiers:empathetic",
    "hf": "affagent.perception.hf:hf_classifier",
}

ESTIMATORS = ("default", "lexicon")


def _resolve(target: str) -> Callable[..., Any]:
    import importlib

    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def classifier_names() -> list[str]:
    """Every classifier name available: built-ins plus installed plugins."""
    names = set(BUILTIN_CLASSIFIERS)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def load_estimator(name: str = "default", **kw: Any) -> VADEstimator:
    """A VAD estimator by name: ``"default"`` (trained encoder; ``weights=`` another weights
    folder) or ``"lexicon"`` (``path=`` the NRC VAD lexicon, else ``$AFFAGENT_NRC_LEXICON``)."""
    from affagent.perception.estimators import EncoderVADEstimator, LexiconVADEstimator

    if name == "default":
        return EncoderVADEstimator(**kw)
    if name == "lexicon":
        return LexiconVADEstimator(**kw)
    raise ConfigError(f"unknown estimator {name!r}; choose one of: {', '.join(ESTIMATORS)}")


def load_classifier(name: str = "goemotions", **kw: Any) -> EmotionClassifier:
    """An emotion classifier plugin by name, from the ``affagent.classifiers`` entry points
    (an installed plugin of the same name overrides a built-in)."""
    target = None
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            target = ep.value
    target = target or BUILTIN_CLASSIFIERS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown classifier {name!r}; choose one of: {', '.join(classifier_names())}"
        )
    try:
        factory = _resolve(target)
    except ImportError as exc:  # a missing package: the caller decides whether to fall back
        raise ImportError(
            f"classifier plugin {name!r} ({target}) failed to load: {exc}", name=exc.name
        ) from exc
    except AttributeError as exc:
        raise ConfigError(f"classifier plugin {name!r} ({target}) failed to load: {exc}") from None
    clf = factory(**kw)
    if not isinstance(clf, EmotionClassifier):
        raise ConfigError(f"classifier plugin {name!r} ({target}) is not an EmotionClassifier")
    return clf


__all__ = [
    "ENTRY_POINT_GROUP",
    "ESTIMATORS",
    "classifier_names",
    "format_hints",
    "load_classifier",
    "load_estimator",
]

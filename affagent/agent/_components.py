"""The one component factory: pluggable parts loaded by name, with documented fallbacks.

Each loader imports its package on first use (models and heavy libraries load then, not at
``import affagent``). A fallback is taken **only when an optional third-party package is
missing** (an ``ImportError``), with a warning and a note in ``Agent.components``; any other
error (a bad file, missing weights, a typo in a name) surfaces as it is:

=============  ===========================================  =================================
component      from                                         if its package is missing
=============  ===========================================  =================================
estimator      ``affagent.perception.load_estimator``       :class:`KeywordEstimator`
classifier     ``affagent.perception.load_classifier``      none: no hints section
hints          ``affagent.perception.format_hints``         :func:`affagent.prompting.default_hints`
selector       ``affagent.strategy.load_selector``          none: no strategy section
strategies     ``affagent.strategy.load_strategies``        strategy named without guidance
appraiser      the persona's role (``affagent.affect``)     —
safety         ``affagent.safety.load_detector``            rules only
backend        ``affagent.backends.load_backend``           ``ConfigError`` (no fallback)
=============  ===========================================  =================================

``AgentConfig.strict_components`` turns a missing package into an error too.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from affagent.agent._keywords import KeywordEstimator
from affagent.agent._stages import Appraiser, RoleAppraiser
from affagent.errors import ConfigError
from affagent.prompting import default_hints
from affagent.types import Backend, EmotionClassifier, EmotionResult, StrategySelector, VADEstimator

if TYPE_CHECKING:
    from affagent.agent._config import AgentConfig
    from affagent.safety import SafetyCheck

log = logging.getLogger("affagent.agent")

_OFF = {"", "none", "off", "null"}


def _fallback(
    kind: str, name: str, exc: ImportError, notes: dict[str, str], strict: bool, fallback: str
) -> None:
    """A missing optional package: warn and note the fallback, or raise when ``strict``."""
    missing = exc.name or str(exc).splitlines()[0]
    if strict:
        raise ConfigError(f"cannot load {kind} {name!r}: missing package {missing!r}") from exc
    notes[kind] = f"{fallback} (fallback: {kind} {name!r} needs {missing!r}, not installed)"
    log.warning("%s %r needs %r, which is not installed; using %s", kind, name, missing, fallback)


def _check_name(kind: str, name: str, known: tuple[str, ...]) -> None:
    if name not in known:
        raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(known)}")


def load_estimator(name: str, notes: dict[str, str], strict: bool = False) -> VADEstimator:
    if name == "keywords":
        notes["estimator"] = "keywords"
        return KeywordEstimator()
    try:
        from affagent.perception import ESTIMATORS
        from affagent.perception import load_estimator as _load
    except ImportError as exc:
        _fallback("estimator", name, exc, notes, strict, "keywords")
        return KeywordEstimator()
    _check_name("estimator", name, (*ESTIMATORS, "keywords"))
    try:
        est: VADEstimator = _load(name)
    except ImportError as exc:
        _fallback("estimator", name, exc, notes, strict, "keywords")
        return KeywordEstimator()
    notes["estimator"] = getattr(est, "name", name)
    return est


def load_classifier(
    name: str, notes: dict[str, str], strict: bool = False
) -> EmotionClassifier | None:
    if name.lower() in _OFF:
        notes["classifier"] = "none"
        return None
    try:
        from affagent.perception import classifier_names
        from affagent.perception import load_classifier as _load

        _check_name("classifier", name, tuple(classifier_names()))
        clf: EmotionClassifier = _load(name)
    except ImportError as exc:
        _fallback("classifier", name, exc, notes, strict, "none (no hints)")
        return None
    notes["classifier"] = getattr(clf, "name", name)
    return clf


def load_hints_formatter() -> Callable[[EmotionResult], str]:
    try:
        from affagent.perception import format_hints
    except ImportError:
        return default_hints
    return format_hints


def load_selector(
    name: str, notes: dict[str, str], backend: Backend | None = None, strict: bool = False
) -> StrategySelector | None:
    if name.lower() in _OFF:
        notes["selector"] = "none"
        return None
    try:
        from affagent.strategy import SELECTOR_NAMES
        from affagent.strategy import load_selector as _load

        _check_name("selector", name, tuple(SELECTOR_NAMES))
        kw: dict[str, Any] = {"backend": backend} if name == "llm" else {}
        sel: StrategySelector = _load(name, **kw)
    except ImportError as exc:
        _fallback("selector", name, exc, notes, strict, "none (no strategy section)")
        return None
    notes["selector"] = getattr(sel, "name", name)
    return sel


def load_strategies() -> dict[str, Any]:
    """Strategy definitions by name."""
    from affagent.strategy import load_strategies as _load

    return {s.name: s for s in _load()}


def load_appraiser(notes: dict[str, str]) -> Appraiser:
    """How the user's affect becomes this persona's stimulus: through its role."""
    notes["appraiser"] = "role"
    return RoleAppraiser()


def load_guard(config: AgentConfig, notes: dict[str, str]) -> SafetyCheck:
    """The safety stage the config describes (detector, crisis lines, boundaries)."""
    from affagent.safety import SafetyGuard, load_detector

    detector = load_detector(config.safety_detector)
    notes["safety"] = getattr(detector, "name", config.safety_detector)
    return SafetyGuard(
        detector,
        resources=config.crisis_resources,
        default_locale=config.locale or "en-US",
        boundaries=config.boundaries,
    )


def load_backend(name: str, options: Mapping[str, Any] | None = None, **connection: Any) -> Backend:
    """The backend ``name`` (:func:`affagent.backends.configured_backend`), or
    ``"package.module:factory"`` for one of your own, called with ``options`` and the
    non-None ``connection`` values."""
    if ":" not in name:
        from affagent.backends import configured_backend

        return configured_backend(name, dict(options or {}), **connection)
    mod, _, attr = name.partition(":")
    try:
        factory = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load backend {name!r}: {exc}") from None
    kw = {k: v for k, v in connection.items() if v is not None}
    backend: Backend = factory(**{**kw, **(options or {})})
    return backend

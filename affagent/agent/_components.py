"""Loading the pluggable parts by name, with documented fallbacks.

Each loader imports its package on first use (models and heavy libraries load then, not at
``import affagent``). When a package is missing the turn still works:

=============  ===========================================  =================================
component      from                                         if unavailable
=============  ===========================================  =================================
estimator      ``affagent.perception.load_estimator``       :class:`KeywordEstimator`
classifier     ``affagent.perception.load_classifier``      none: no hints section
hints          ``affagent.perception.format_hints``         :func:`affagent.prompting.default_hints`
selector       ``affagent.strategy.load_selector``          none: no strategy section
strategies     ``affagent.strategy.load_strategies``        strategy named without guidance
backend        ``affagent.backends.load_backend``           ``ConfigError`` (no fallback)
=============  ===========================================  =================================

A name the package does not know is an error, not a fallback. What was used is reported in
``Agent.components``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from affagent.agent._keywords import KeywordEstimator
from affagent.errors import ConfigError
from affagent.prompting import default_hints
from affagent.types import Backend, EmotionClassifier, EmotionResult, StrategySelector, VADEstimator

log = logging.getLogger("affagent.agent")

_OFF = {"", "none", "off", "null"}


def _import(module: str, name: str) -> Any:
    """``from module import name``; a missing module or name (a package that has not landed
    or lacks its optional dependencies) is an ImportError, the fallback signal."""
    mod = importlib.import_module(module)
    try:
        return getattr(mod, name)
    except AttributeError:
        raise ImportError(f"{module} has no {name}") from None


def load_estimator(name: str, notes: dict[str, str]) -> VADEstimator:
    if name == "keywords":
        notes["estimator"] = "keywords"
        return KeywordEstimator()
    try:
        est = _import("affagent.perception", "load_estimator")(name)
    except ImportError as exc:
        notes["estimator"] = f"keywords (fallback: affagent.perception unavailable: {exc})"
        log.warning("estimator %r unavailable (%s); using the keyword estimator", name, exc)
        return KeywordEstimator()
    notes["estimator"] = getattr(est, "name", name)
    return est


def load_classifier(name: str, notes: dict[str, str]) -> EmotionClassifier | None:
    if name.lower() in _OFF:
        notes["classifier"] = "none"
        return None
    try:
        clf = _import("affagent.perception", "load_classifier")(name)
    except ImportError as exc:
        notes["classifier"] = f"none (fallback: affagent.perception unavailable: {exc})"
        log.warning("classifier %r unavailable (%s); no emotion hints", name, exc)
        return None
    notes["classifier"] = getattr(clf, "name", name)
    return clf


def load_hints_formatter() -> Callable[[EmotionResult], str]:
    try:
        fn: Callable[[EmotionResult], str] = _import("affagent.perception", "format_hints")
    except ImportError:
        return default_hints
    return fn


def load_selector(
    name: str, notes: dict[str, str], backend: Backend | None = None
) -> StrategySelector | None:
    if name.lower() in _OFF:
        notes["selector"] = "none"
        return None
    try:
        _load = _import("affagent.strategy", "load_selector")
        sel = _load(name, backend=backend) if name == "llm" else _load(name)
    except ImportError as exc:
        notes["selector"] = f"none (fallback: affagent.strategy unavailable: {exc})"
        log.warning("selector %r unavailable (%s); no strategy section", name, exc)
        return None
    notes["selector"] = getattr(sel, "name", name)
    return sel


def load_strategies() -> dict[str, Any]:
    """Strategy definitions by name (empty when the strategy package is unavailable)."""
    try:
        _load = _import("affagent.strategy", "load_strategies")
    except ImportError:
        return {}
    try:
        return {s.name: s for s in _load()}
    except Exception as exc:
        log.warning("cannot load strategy definitions: %s", exc)
        return {}


def load_backend(name: str, **kw: Any) -> Backend:
    """``load_backend`` of :mod:`affagent.backends`, or ``"package.module:factory"`` for a
    backend of your own (called with the same keyword arguments)."""
    kw = {k: v for k, v in kw.items() if v is not None}
    if ":" in name:
        mod, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load backend {name!r}: {exc}") from None
        return factory(**kw)
    try:
        _load = _import("affagent.backends", "load_backend")
    except ImportError as exc:
        raise ConfigError(f"backend {name!r} is not available: {exc}") from None
    return _load(name, **kw)

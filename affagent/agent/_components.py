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

A component that fails to load (package missing, weights not trained, a model file absent)
falls back with a warning, unless ``AgentConfig.strict_components`` is set; a name the package
does not list is always an error. What was used is reported in ``Agent.components``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from affagent.agent._keywords import KeywordEstimator
from affagent.errors import AffagentError, ConfigError
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


def _known(module: str, attrs: str) -> tuple[str, ...] | None:
    """The names a package declares (the first of ``attrs``, comma-separated, that exists;
    a callable is called), or None when it declares none."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    for attr in attrs.split(","):
        names = getattr(mod, attr.strip(), None)
        if names is None:
            continue
        try:
            return tuple(str(n) for n in (names() if callable(names) else names))
        except Exception:
            return None
    return None


def _attempt(
    kind: str,
    name: str,
    module: str,
    loader: str,
    names_attr: str,
    notes: dict[str, str],
    strict: bool,
    fallback: str,
    **kw: Any,
) -> Any:
    """Load ``module.loader(name, **kw)``; on failure fall back (returns None) with a warning
    and a note, unless ``strict``. A name the package does not list is always an error."""
    known = _known(module, names_attr)
    if known is not None and name not in known:
        raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(known)}")
    try:
        return _import(module, loader)(name, **kw)
    except Exception as exc:
        if strict:
            if isinstance(exc, AffagentError):
                raise
            raise ConfigError(f"cannot load {kind} {name!r}: {exc}") from exc
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        notes[kind] = f"{fallback} (fallback: {kind} {name!r} unavailable: {reason})"
        log.warning("%s %r unavailable (%s); using %s", kind, name, reason, fallback)
        return None


def load_estimator(name: str, notes: dict[str, str], strict: bool = False) -> VADEstimator:
    if name == "keywords":
        notes["estimator"] = "keywords"
        return KeywordEstimator()
    est = _attempt(
        "estimator",
        name,
        "affagent.perception",
        "load_estimator",
        "ESTIMATOR_NAMES",
        notes,
        strict,
        "keywords",
    )
    if est is None:
        return KeywordEstimator()
    notes["estimator"] = getattr(est, "name", name)
    return est


def load_classifier(
    name: str, notes: dict[str, str], strict: bool = False
) -> EmotionClassifier | None:
    if name.lower() in _OFF:
        notes["classifier"] = "none"
        return None
    clf = _attempt(
        "classifier",
        name,
        "affagent.perception",
        "load_classifier",
        "CLASSIFIER_NAMES",
        notes,
        strict,
        "none (no hints)",
    )
    if clf is not None:
        notes["classifier"] = getattr(clf, "name", name)
    return clf


def load_hints_formatter() -> Callable[[EmotionResult], str]:
    try:
        fn: Callable[[EmotionResult], str] = _import("affagent.perception", "format_hints")
    except ImportError:
        return default_hints
    return fn


def load_selector(
    name: str, notes: dict[str, str], backend: Backend | None = None, strict: bool = False
) -> StrategySelector | None:
    if name.lower() in _OFF:
        notes["selector"] = "none"
        return None
    kw: dict[str, Any] = {"backend": backend} if name == "llm" else {}
    sel = _attempt(
        "selector",
        name,
        "affagent.strategy",
        "load_selector",
        "SELECTOR_NAMES",
        notes,
        strict,
        "none (no strategy section)",
        **kw,
    )
    if sel is not None:
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

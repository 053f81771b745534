"""Where the data folders (personas/, strategies/, evals/protocols/) are found.

A source checkout reads them from the repository root; an installed wheel carries them under
``affagent/_data``. ``AFFAGENT_PERSONAS_DIR`` and friends override both
(:mod:`affagent.settings`).
"""

from __future__ import annotations

import os
from pathlib import Path

from affagent.settings import settings

_PKG = Path(__file__).resolve().parent
_ROOT = _PKG.parent

_WHEEL_NAMES = {"personas": "personas", "strategies": "strategies", "evals/protocols": "protocols"}


def data_dir(name: str) -> Path:
    """The folder for ``personas``, ``strategies`` or ``evals/protocols``."""
    s = settings()
    env = {"personas": s.personas_dir, "strategies": s.strategies_dir,
           "evals/protocols": s.protocols_dir}[name]
    if env:
        return env
    src = _ROOT / name
    if src.is_dir():
        return src
    return _PKG / "_data" / _WHEEL_NAMES[name]


def state_dir() -> Path:
    """Where affagent keeps local state (the default SQLite store): ``$AFFAGENT_HOME`` or
    ``~/.local/share/affagent``."""
    home = settings().home
    p = home if home else Path.home() / ".local" / "share" / "affagent"
    p.mkdir(parents=True, exist_ok=True)
    return p


def cache_root() -> Path:
    """Where derived, re-creatable files go (ONNX exports, saved prompt prefixes):
    ``$AFFAGENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/affagent`` (``~/.cache/affagent``)."""
    env = settings().cache_dir
    if env:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "affagent"

"""Reading the YAML data files (personas, strategies, protocols) with one-line errors that name
the file, so every loader reports unreadable, non-UTF-8, malformed or mis-shaped files alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from affagent.errors import ConfigError


def read_yaml_mapping(path: Path, what: str, shape: str = "") -> dict[str, Any]:
    """Parse ``path`` as a YAML mapping; ``what`` names the file kind in errors (e.g.
    ``"persona"``) and ``shape`` adds a hint to the not-a-mapping error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a {what} file must be a YAML mapping{shape}")
    return raw

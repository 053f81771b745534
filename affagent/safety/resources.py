"""Crisis resources per locale, from a YAML file the deployer controls.

The shipped file (``affagent/safety/crisis_resources.yaml``) covers a few locales and a
generic fallback; a deployment replaces it with ``AFFAGENT_CRISIS_RESOURCES=/path.yaml`` or
``affagent serve --crisis-resources``. Phone numbers change: verify them for your locales.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from affagent.errors import ConfigError

DEFAULT_RESOURCES = Path(__file__).with_name("crisis_resources.yaml")


class CrisisResource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    contact: str = Field(min_length=1, description="read inside a sentence: 'call or text 988'")
    url: str = ""


class LocaleResources(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    emergency: str = Field(min_length=1, description="the emergency number, e.g. 911")
    resources: list[CrisisResource] = Field(min_length=1)


class ResourceBook(BaseModel):
    """All locales of one resources file, with the lookup rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    locales: dict[str, LocaleResources] = Field(default_factory=dict)
    fallback: LocaleResources

    def lookup(self, locale: str | None) -> tuple[str, LocaleResources]:
        """``(matched_locale, resources)``: exact tag, then same language, then fallback."""
        if locale:
            want = locale.replace("_", "-").lower()
            by_lower = {k.lower(): k for k in self.locales}
            if want in by_lower:
                key = by_lower[want]
                return key, self.locales[key]
            lang = want.split("-")[0]
            for k in sorted(self.locales):
                if k.lower().split("-")[0] == lang:
                    return k, self.locales[k]
        return "fallback", self.fallback


def resources_path() -> Path:
    from affagent.settings import settings

    env = settings().crisis_resources
    return Path(env) if env else DEFAULT_RESOURCES


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> ResourceBook:
    del mtime
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read crisis resources ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})".replace("\n", " ")) from None
    try:
        return ResourceBook.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{p}: invalid crisis resources at {loc}: {first['msg']}") from None


def load_resources(path: str | Path | None = None) -> ResourceBook:
    """The resource book at ``path`` (default: :func:`resources_path`), validated and cached."""
    p = Path(path) if path else resources_path()
    if not p.exists():
        raise ConfigError(f"crisis resources file not found: {p}")
    return _load(str(p.resolve()), p.stat().st_mtime)

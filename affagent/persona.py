"""Personas: data files (``personas/*.yaml``) validated by a pydantic schema.

A persona sets the personality (and so the resting mood and transition weights), its **role**
toward the user's feelings (how they are appraised before the dynamics:
:mod:`affagent.affect.appraisal`), the default dynamics, the speaking style and the emotional
boundaries the prompt layer enforces.

Example ``personas/calm-counsellor.yaml``::

    name: Calm counsellor
    description: A steady, warm listener for emotional support.
    traits: {openness: 0.7, conscientiousness: 0.8, extraversion: 0.45,
             agreeableness: 0.9, neuroticism: 0.15}
    role: empathic_concern
    dynamics: first:0.6
    style: Short, gentle sentences. Reflect feelings before offering anything.
    boundaries:
      - You are an AI assistant, not a human or a licensed therapist; say so if asked.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from affagent._yaml import read_yaml_mapping
from affagent.affect.appraisal import ROLES, Role
from affagent.affect.dynamics import DynamicsSpec, parse_dynamics
from affagent.affect.personality import Personality
from affagent.errors import ConfigError
from affagent.resources import data_dir


class Persona(BaseModel):
    """A persona file's schema. Unknown fields are errors, so typos do not pass silently."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field("", description="The file stem; filled in by the loader.")
    name: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=500)
    traits: Personality
    role: Role = Field(
        "contagion",
        description="How the user's feeling is appraised: " + ", ".join(ROLES),
    )
    dynamics: str = Field("second:0.8", description="Default dynamics, e.g. first:0.3")
    style: str = Field(min_length=1, max_length=2000)
    boundaries: list[str] = Field(default_factory=list)
    greeting: str = ""
    crisis_locale: str = "en-US"

    @field_validator("dynamics")
    @classmethod
    def _dynamics(cls, v: str) -> str:
        return str(parse_dynamics(v))

    @property
    def dynamics_spec(self) -> DynamicsSpec:
        return parse_dynamics(self.dynamics)


def _format_validation(path: Path, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        ctx = e.get("ctx") or {}
        if ("ge" in ctx or "le" in ctx) and loc.startswith("traits."):
            msg = f"must be between 0 and 1 (got {e.get('input')!r})"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif loc == "role":
            msg = f"must be one of {', '.join(ROLES)} (got {e.get('input')!r})"
        parts.append(f"{loc}: {msg}")
    return f"{path}: invalid persona: " + "; ".join(parts)


def load_persona_file(path: str | Path) -> Persona:
    """Load and validate one persona file; errors name the file, the field and the range."""
    path = Path(path)
    raw = read_yaml_mapping(path, "persona")
    raw.setdefault("id", path.stem)
    try:
        return Persona.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc)) from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: dynamics: {exc}") from None


def persona_dir() -> Path:
    return data_dir("personas")


def list_personas(directory: Path | None = None) -> list[str]:
    d = directory or persona_dir()
    return sorted(p.stem for p in d.glob("*.yaml"))


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Persona:
    del mtime
    return load_persona_file(path)


def load_persona(name_or_path: str, directory: Path | None = None) -> Persona:
    """A persona by stem (``calm-counsellor``) or by a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError(f"persona file not found: {p}")
        return _load_cached(str(p), p.stat().st_mtime)
    d = directory or persona_dir()
    f = d / f"{name_or_path}.yaml"
    if not f.exists():
        known = ", ".join(list_personas(d)) or "(none)"
        raise ConfigError(f"unknown persona {name_or_path!r}; available: {known}")
    return _load_cached(str(f), f.stat().st_mtime)


DEFAULT_PERSONA = "calm-counsellor"

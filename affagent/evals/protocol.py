"""Scripted protocols: a fixed list of user turns, each tagged with a phase.

The minimal form every runner accepts::

    name: adversarial-reconciliation
    turns:
      - user: "Hi, can we talk about the project?"
        phase: neutral
      - user: "..."
        phase: adversarial

Any phase names are allowed and extra fields pass through (kept on the model), so a protocol
can carry notes or per-turn annotations for other tools. Which phases play which *role* in the
metrics (the neutral baseline, the adversarial onset, the reconciliation) is set by an optional
``roles`` mapping, by the CLI, or by :data:`DEFAULT_ROLES`::

    roles:
      neutral: [neutral]
      adversarial: [hostile]
      reconciliation: [warm]

Every problem is reported before any generation starts, as one line naming the file, the turn
(1-based) and what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from affagent._yaml import read_yaml_mapping
from affagent.errors import ConfigError
from affagent.resources import data_dir

__all__ = [
    "DEFAULT_ROLES",
    "PhaseRoles",
    "Protocol",
    "ProtocolTurn",
    "list_protocols",
    "load_protocol",
    "load_protocol_file",
]


@dataclass(frozen=True, slots=True)
class PhaseRoles:
    """Which phase names count as the neutral baseline, adversarial and reconciliation phases."""

    neutral: frozenset[str]
    adversarial: frozenset[str]
    reconciliation: frozenset[str]

    @classmethod
    def of(
        cls,
        neutral: Iterable[str],
        adversarial: Iterable[str],
        reconciliation: Iterable[str],
    ) -> PhaseRoles:
        norm = lambda xs: frozenset(x.strip().lower() for x in xs if x.strip())  # noqa: E731
        return cls(norm(neutral), norm(adversarial), norm(reconciliation))

    def role(self, phase: str) -> str | None:
        p = phase.strip().lower()
        if p in self.adversarial:
            return "adversarial"
        if p in self.reconciliation:
            return "reconciliation"
        if p in self.neutral:
            return "neutral"
        return None

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "neutral": sorted(self.neutral),
            "adversarial": sorted(self.adversarial),
            "reconciliation": sorted(self.reconciliation),
        }


#: Phase names recognised when a protocol declares no ``roles`` (case-insensitive).
DEFAULT_ROLES = PhaseRoles.of(
    neutral=["neutral", "baseline", "opening", "smalltalk"],
    adversarial=["adversarial", "hostile", "conflict", "perturbation", "negative", "distress"],
    reconciliation=["reconciliation", "repair", "warm", "comfort", "recovery", "positive"],
)


class ProtocolTurn(BaseModel):
    """One scripted user turn. Extra fields are allowed and kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    user: str = Field(min_length=1, max_length=4000)
    phase: str = Field(min_length=1, max_length=80)

    @field_validator("user", "phase")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class RolesSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    neutral: list[str] | None = None
    adversarial: list[str] | None = None
    reconciliation: list[str] | None = None


class Protocol(BaseModel):
    """A protocol file. ``turns`` must be non-empty; ``roles`` is optional."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    roles: RolesSpec | None = None
    turns: list[ProtocolTurn] = Field(min_length=1)

    @property
    def phases(self) -> list[str]:
        return [t.phase for t in self.turns]

    def phase_roles(self, override: PhaseRoles | None = None) -> PhaseRoles:
        """The roles to use: ``override`` (from the CLI), else the file's, else the defaults;
        a role the file leaves out falls back to the default names."""
        if override is not None:
            return override
        r = self.roles
        if r is None:
            return DEFAULT_ROLES
        d = DEFAULT_ROLES
        return PhaseRoles.of(
            d.neutral if r.neutral is None else r.neutral,
            d.adversarial if r.adversarial is None else r.adversarial,
            d.reconciliation if r.reconciliation is None else r.reconciliation,
        )

    def digest(self) -> str:
        """A content hash of what the runner uses (turn texts and phases), for resume checks."""
        h = hashlib.sha256()
        for t in self.turns:
            h.update(t.phase.encode() + b"\x00" + t.user.encode() + b"\x01")
        return h.hexdigest()[:16]


def _loc(path: Path, loc: tuple[Any, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "turns" and isinstance(loc[1], int):
        rest = ".".join(str(x) for x in loc[2:])
        return f"turn {loc[1] + 1}" + (f": field {rest!r}" if rest else "")
    return "field " + repr(".".join(str(x) for x in loc)) if loc else "top level"


def _format(path: Path, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        msg = e["msg"]
        if e["type"] == "missing":
            msg = "is missing"
        elif e["type"] == "too_short" and e["loc"] == ("turns",):
            msg = "is empty (a protocol needs at least one turn)"
        elif e["type"] in ("string_too_short",):
            msg = "must not be empty"
        elif e["type"] == "extra_forbidden":
            msg = "is not a known field"
        parts.append(f"{_loc(path, tuple(e['loc']))} {msg}".replace("  ", " "))
    return f"{path}: invalid protocol: " + "; ".join(parts)


def load_protocol_file(path: str | Path) -> Protocol:
    """Load and validate one protocol file.

    Raises :class:`~affagent.errors.ConfigError` with a one-line message naming the file, the
    1-based turn index and the problem, e.g.
    ``p.yaml: invalid protocol: turn 3: field 'user' is missing``.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "protocol", " with 'name' and 'turns'")
    turns = raw.get("turns")
    if isinstance(turns, list):
        for i, t in enumerate(turns):
            if not isinstance(t, dict):
                raise ConfigError(
                    f"{path}: invalid protocol: turn {i + 1} must be a mapping with "
                    f"'user' and 'phase' (got {type(t).__name__})"
                )
    try:
        proto = Protocol.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(path, exc)) from None
    if proto.roles is not None:
        present = {p.strip().lower() for p in proto.phases}
        for role in ("neutral", "adversarial", "reconciliation"):
            for name in getattr(proto.roles, role) or []:
                if name.strip().lower() not in present:
                    raise ConfigError(
                        f"{path}: invalid protocol: roles.{role} names phase {name!r}, "
                        f"which no turn has (phases: {', '.join(sorted(present))})"
                    )
    return proto


def protocol_dir() -> Path:
    return data_dir("evals/protocols")


def list_protocols(directory: Path | None = None) -> list[str]:
    d = directory or protocol_dir()
    return sorted(p.stem for p in d.glob("*.yaml"))


def resolve_protocol_path(name_or_path: str | Path, directory: Path | None = None) -> Path:
    """A path as given, or a shipped protocol by stem (``adversarial-reconciliation``)."""
    p = Path(name_or_path)
    if p.exists() or p.suffix in (".yaml", ".yml") or "/" in str(name_or_path):
        return p
    d = directory or protocol_dir()
    f = d / f"{name_or_path}.yaml"
    if not f.exists():
        known = ", ".join(list_protocols(d)) or "(none)"
        raise ConfigError(f"unknown protocol {str(name_or_path)!r}; shipped: {known}")
    return f


def load_protocol(name_or_path: str | Path, directory: Path | None = None) -> Protocol:
    """A protocol by path or by the stem of a shipped file."""
    return load_protocol_file(resolve_protocol_path(name_or_path, directory))

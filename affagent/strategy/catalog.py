"""The strategy catalogue: ``strategies/*.yaml``, one file per support strategy.

Each file is validated by :class:`Strategy`; besides the ESConv definition and the guidance
told to the generator, a file may say how a reply using it is *shaped*: an ``instruction``
given last in the prompt, ``openers`` (reply stems the reply is prefilled with) and
``max_sentences``. Those fields are what makes a small model's reply carry the strategy
(measured by ``affagent eval injection``, evals/RESULTS.md). A malformed file raises
:class:`~affagent.errors.ConfigError` naming the file and the field. Files load in name order,
so the numeric prefixes (``01-question.yaml`` ...) keep ESConv's order. Users may edit the
guidance and examples, or add strategies: the LLM selector and the prompt offer every loaded
strategy, while the learned selector only ever predicts the eight ESConv strategies it was
trained on.

Example::

    >>> from affagent.strategy import load_strategies
    >>> [s.name for s in load_strategies()][:2]
    ['Question', 'Restatement or Paraphrasing']
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from affagent._yaml import read_yaml_mapping
from affagent.errors import ConfigError
from affagent.resources import data_dir

__all__ = ["Stage", "Strategy", "load_strategies", "load_strategy_file", "strategy_dir"]

#: The three stages of ESConv's support procedure; ``any`` for pleasantries and the like.
Stage = Literal["exploration", "comforting", "action", "any"]


class Strategy(BaseModel):
    """One strategy file. Unknown fields are errors, so typos do not pass silently."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80, description="As the label appears in data.")
    definition: str = Field(min_length=1, max_length=1000)
    stage: Stage
    guidance: str = Field(min_length=1, max_length=2000, description="Told to the generator.")
    example: str = Field(min_length=1, max_length=1000, description="One reply that uses it.")
    instruction: str | None = Field(
        default=None, max_length=300,
        description="One short imperative given last, just before the reply (where a small "
        "model still follows it), e.g. 'Reply in one sentence that asks one open question.'")
    openers: list[str] = Field(
        default_factory=list, max_length=20,
        description="Stems the reply starts with (prefilled after any tone opener; one is "
        "chosen per turn), e.g. 'It sounds like you'. Empty: the model starts on its own.")
    max_sentences: int | None = Field(
        default=None, ge=1, le=10,
        description="The reply ends after this many sentences (the reply filter stops it).")

    @field_validator("name", "definition", "guidance", "example", "instruction")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = " ".join(v.split())
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("openers")
    @classmethod
    def _openers(cls, v: list[str]) -> list[str]:
        out = [" ".join(o.split()) for o in v]
        if any(not o or len(o) > 80 for o in out):
            raise ValueError("each opener must be 1-80 characters")
        return out


def _format_validation(path: Path, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = ("unknown field (allowed: name, definition, stage, guidance, example, "
                   "instruction, openers, max_sentences)")
        elif e["type"] == "literal_error":
            msg = f"must be one of exploration, comforting, action, any (got {e.get('input')!r})"
        else:
            msg = e["msg"]
        parts.append(f"{loc}: {msg}")
    return f"{path}: invalid strategy: " + "; ".join(parts)


def load_strategy_file(path: str | Path) -> Strategy:
    """Load and validate one strategy file."""
    path = Path(path)
    raw = read_yaml_mapping(path, "strategy")
    try:
        return Strategy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc)) from None


def strategy_dir() -> Path:
    return data_dir("strategies")


@lru_cache(maxsize=8)
def _load_dir(directory: str, stamp: tuple[tuple[str, float], ...]) -> tuple[Strategy, ...]:
    del stamp
    out: list[Strategy] = []
    seen: dict[str, str] = {}
    for f in sorted(Path(directory).glob("*.yaml")):
        s = load_strategy_file(f)
        key = s.name.casefold()
        if key in seen:
            raise ConfigError(f"{f}: name: duplicate strategy {s.name!r} (also in {seen[key]})")
        seen[key] = f.name
        out.append(s)
    if not out:
        raise ConfigError(f"{directory}: no strategy files (*.yaml) found")
    return tuple(out)


def load_strategies(directory: str | Path | None = None) -> list[Strategy]:
    """All strategies of a folder (default: the shipped ``strategies/``), in file-name order.

    Cached per folder and reloaded when a file changes.
    """
    d = Path(directory) if directory is not None else strategy_dir()
    if not d.is_dir():
        raise ConfigError(f"strategy folder not found: {d}")
    stamp = tuple((f.name, f.stat().st_mtime) for f in sorted(d.glob("*.yaml")))
    return list(_load_dir(str(d), stamp))

"""What the store hands out: immutable pydantic records, JSON-serialisable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from affagent.affect.state import AffectState
from affagent.types import TurnTrace, VADEstimate


def _state_in(v: Any) -> AffectState:
    return v if isinstance(v, AffectState) else AffectState.from_dict(v)


#: An AffectState field that reads and writes the state's exact JSON form.
StateField = Annotated[
    AffectState,
    BeforeValidator(_state_in),
    PlainSerializer(lambda s: s.to_dict(), return_type=dict[str, Any]),
]


class SessionRecord(BaseModel):
    """A session as stored. ``state`` is the agent's state after the last committed turn;
    ``version`` is what :meth:`SessionStore.commit_turn` must be given to commit the next one."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    tenant: str
    persona: str
    dynamics: str
    state: StateField
    version: int
    turns: int
    created_at: datetime
    updated_at: datetime
    title: str = ""
    meta: dict[str, Any] = {}


class HistoryItem(BaseModel):
    """One past turn as the prompt's history window needs it (no trace loaded)."""

    model_config = ConfigDict(frozen=True)

    turn: int
    user_text: str
    reply: str
    strategy: str | None = None
    user_estimate: VADEstimate = VADEstimate(confidence=0.0)


class TurnRecord(BaseModel):
    """A committed turn with its full trace."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    turn: int
    created_at: datetime
    user_text: str
    reply: str
    strategy: str | None = None
    trace: TurnTrace


class Snapshot(BaseModel):
    """The agent's state after ``turn`` (0 = at session creation)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    turn: int
    state: StateField
    created_at: datetime

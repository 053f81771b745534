"""The session as the chat app shows it: a pure, textual-free view built from turn traces.

Widgets read from a :class:`SessionView`; nothing here touches the terminal, so the numbers on
screen can be unit-tested and the same view feeds the Markdown/JSON export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from affagent.affect.labels import describe, mixture, prototypes
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.types import TurnTrace


def as_trace(obj: Any) -> TurnTrace:
    """A :class:`TurnTrace` from whatever the store or the agent hands back.

    Accepts a trace, anything with a ``trace`` attribute (a stored turn row, a ``TurnResult``)
    or a JSON-ready mapping, so the app does not depend on the store's row type.
    """
    if isinstance(obj, TurnTrace):
        return obj
    inner = getattr(obj, "trace", None)
    if inner is not None:
        return as_trace(inner)
    if isinstance(obj, dict):
        return TurnTrace.model_validate(obj.get("trace", obj))
    raise TypeError(f"cannot read a turn trace from {type(obj).__name__}")


def _vad_of(state: Any) -> VAD:
    """The VAD point of an AffectState, a state dict (``{"vad": {...}}``) or a ``{"V",..}`` dict."""
    if isinstance(state, AffectState):
        return state.vad
    if isinstance(state, VAD):
        return state
    if isinstance(state, dict):
        if "vad" in state:
            return VAD.from_dict(state["vad"])
        if {"V", "A", "D"} <= state.keys():
            return VAD.from_dict(state)
    return VAD()


def _velocity_of(state: Any) -> VAD:
    if isinstance(state, AffectState):
        return state.velocity
    if isinstance(state, dict) and isinstance(state.get("velocity"), dict):
        return VAD.from_dict(state["velocity"])
    return VAD()


def _safety_label(safety: dict[str, Any] | None) -> str | None:
    """``"crisis: self_harm (high)"`` from ``TurnTrace.safety``; None for a normal turn."""
    if not safety:
        return None
    label = str(safety.get("action", "flagged"))
    if safety.get("category"):
        label += f": {safety['category']}"
    if safety.get("severity"):
        label += f" ({safety['severity']})"
    return label


@dataclass(frozen=True, slots=True)
class TurnView:
    """One exchange and what it did to the two affect tracks."""

    turn: int
    user_text: str
    reply: str
    agent: VAD
    user: VAD
    velocity: VAD = field(default_factory=VAD)
    strategy: str | None = None
    strategy_p: float | None = None
    emotions: tuple[tuple[str, float], ...] = ()
    causes: tuple[tuple[str, float], ...] = ()
    safety: str | None = None
    feeling: tuple[str, ...] = ()
    trace: TurnTrace | None = None

    @classmethod
    def from_trace(cls, trace: TurnTrace) -> TurnView:
        choice = trace.strategy
        p = None
        if choice is not None:
            p = choice.probabilities.get(choice.strategy)
        emotions: tuple[tuple[str, float], ...] = ()
        causes: tuple[tuple[str, float], ...] = ()
        if trace.emotions is not None:
            emotions = tuple(trace.emotions.top(3))
            causes = tuple((str(w), float(s)) for w, s in trace.emotions.causes[:5])
        return cls(
            turn=trace.turn,
            user_text=trace.user_text,
            reply=trace.reply,
            agent=_vad_of(trace.state_after),
            velocity=_velocity_of(trace.state_after),
            user=trace.user_estimate.vad,
            strategy=None if choice is None else choice.strategy,
            strategy_p=p,
            emotions=emotions,
            causes=causes,
            safety=_safety_label(trace.safety),
            feeling=tuple(trace.feeling),
            trace=trace,
        )


@dataclass
class SessionView:
    """The session on screen: its identity, where the agent started, and the turns so far."""

    session_id: str = ""
    persona: str = ""
    dynamics: str = ""
    title: str = ""
    start: VAD = field(default_factory=VAD)
    start_velocity: VAD = field(default_factory=VAD)
    turns: list[TurnView] = field(default_factory=list)

    @classmethod
    def from_record(cls, record: Any, traces: Iterable[Any] = ()) -> SessionView:
        """Build from a store record (``id, persona, dynamics, state, title``) and its turns.

        The starting point of the agent's track is the state before the first turn, or the
        record's current state for a session with no turns yet.
        """
        views = [TurnView.from_trace(as_trace(t)) for t in traces]
        views.sort(key=lambda v: v.turn)
        before: Any
        if views and views[0].trace is not None:
            before = views[0].trace.state_before
        else:
            before = getattr(record, "state", None)
        return cls(
            session_id=str(getattr(record, "id", "")),
            persona=str(getattr(record, "persona", "") or ""),
            dynamics=str(getattr(record, "dynamics", "") or ""),
            title=str(getattr(record, "title", "") or ""),
            start=_vad_of(before),
            start_velocity=_velocity_of(before),
            turns=views,
        )

    def add(self, trace: TurnTrace) -> TurnView:
        view = TurnView.from_trace(trace)
        self.turns.append(view)
        if trace.dynamics:
            self.dynamics = trace.dynamics
        return view

    @property
    def agent_now(self) -> VAD:
        return self.turns[-1].agent if self.turns else self.start

    @property
    def user_now(self) -> VAD | None:
        return self.turns[-1].user if self.turns else None

    def agent_track(self) -> list[VAD]:
        """The agent's state from the start through every turn (length = turns + 1)."""
        return [self.start, *(t.agent for t in self.turns)]

    def user_track(self) -> list[VAD]:
        """The estimate of the user, one point per turn."""
        return [t.user for t in self.turns]

    @property
    def velocity_now(self) -> VAD:
        return self.turns[-1].velocity if self.turns else self.start_velocity

    def feelings(self, k: int = 3) -> list[tuple[str, float]]:
        """The named emotions closest to the agent's current state (Russell & Mehrabian), with
        their probability in the mixture: over the words the last prompt used (the ones its
        role allows) when there are any, else over the whole table."""
        last = self.last
        known = {p.term for p in prototypes()}
        words = frozenset(w for w in (last.feeling if last else ()) if w in known)
        if words:
            return mixture(self.agent_now, top_k=k, vocabulary=words)
        return mixture(self.agent_now, top_k=k)

    def in_words(self) -> str:
        """The feeling words the last prompt gave the model (chosen within the persona's
        role), e.g. ``"serious, troubled, quiet"``; before any turn, the resting state in
        words (``"mildly relaxed and calm"``)."""
        last = self.last
        if last is not None and last.feeling:
            return ", ".join(last.feeling)
        return describe(self.agent_now, self.velocity_now)

    @property
    def last(self) -> TurnView | None:
        return self.turns[-1] if self.turns else None


def axis(track: Sequence[VAD], name: str) -> list[float]:
    """One axis (``"V"``, ``"A"`` or ``"D"``) of a track."""
    i = "VAD".index(name)
    return [p.as_tuple()[i] for p in track]

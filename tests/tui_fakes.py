"""A deterministic in-memory agent with the Agent contract's shape, for TUI unit tests. It
speaks the real records (``TurnResult``, ``StreamEvent``, ``TurnTrace``), so a change to
them breaks these tests too.

It moves a real AffectState with the real dynamics (affagent.affect.step) from a tiny keyword
lexicon, streams its reply word by word, and commits a turn only after the last token, like the
real agent: a cancelled or failed stream stores nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from affagent.affect.dynamics import step
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.agent import StreamEvent, TurnResult
from affagent.errors import BackendError, SessionNotFound
from affagent.persona import load_persona
from affagent.types import EmotionResult, StrategyChoice, TurnTrace, VADEstimate

LEXICON: dict[str, tuple[VAD, str]] = {
    "sad": (VAD(-0.7, -0.3, -0.4), "sadness"),
    "lost": (VAD(-0.6, -0.1, -0.5), "sadness"),
    "angry": (VAD(-0.8, 0.7, 0.3), "anger"),
    "furious": (VAD(-0.9, 0.9, 0.4), "anger"),
    "scared": (VAD(-0.6, 0.6, -0.6), "fear"),
    "happy": (VAD(0.8, 0.4, 0.3), "joy"),
    "great": (VAD(0.7, 0.4, 0.4), "joy"),
    "thanks": (VAD(0.6, 0.1, 0.2), "gratitude"),
}

CLOCK = 1_780_000_000.0


@dataclass
class Record:
    id: str
    tenant: str
    persona: str
    dynamics: str
    state: AffectState
    version: int = 0
    turns: int = 0
    created_at: float = CLOCK
    updated_at: float = CLOCK
    title: str = ""


@dataclass
class FakeStore:
    sessions: dict[str, Record] = field(default_factory=dict)
    traces: dict[str, list[TurnTrace]] = field(default_factory=dict)
    broken: bool = False

    def _check(self) -> None:
        if self.broken:
            raise RuntimeError("database is locked")

    def list_sessions(self, tenant: str = "default") -> list[Record]:
        self._check()
        return [r for r in self.sessions.values() if r.tenant == tenant]

    def get_session(self, session_id: str, tenant: str = "default") -> Record:
        self._check()
        r = self.sessions.get(session_id)
        if r is None or r.tenant != tenant:
            raise SessionNotFound(f"no session {session_id!r}")
        return r

    def turns(self, session_id: str, tenant: str = "default") -> list[TurnTrace]:
        self.get_session(session_id, tenant)
        return list(self.traces.get(session_id, []))

    def export(self, session_id: str, tenant: str = "default", fmt: str = "json") -> str:
        traces = self.turns(session_id, tenant)
        if fmt == "json":
            return json.dumps(
                {"format": "fake", "turns": [t.model_dump(mode="json") for t in traces]}
            )
        return "\n".join(f"{t.turn}. {t.user_text} -> {t.reply}" for t in traces) + "\n"


class FakeAgent:
    def __init__(self, token_delay: float = 0.0) -> None:
        self.store = FakeStore()
        self.token_delay = token_delay
        self.fail_after: int | None = None  # raise BackendError after this many tokens
        self.gate: asyncio.Event | None = None  # when set, the stream waits on it mid-reply
        self.gate_after_commit: asyncio.Event | None = None  # ... or after committing
        self.closed = False
        self._n = 0

    def new_session(
        self,
        *,
        persona: str | None = None,
        dynamics: str | None = None,
        tenant: str = "default",
        session_id: str | None = None,
    ) -> str:
        p = load_persona(persona or "calm-counsellor")
        self._n += 1
        sid = session_id or f"fake-{self._n:04d}"
        self.store.sessions[sid] = Record(
            id=sid,
            tenant=tenant,
            persona=p.id,
            dynamics=dynamics or p.dynamics,
            state=AffectState.at_rest(p.traits.resting(), updated_at=None),
        )
        self.store.traces[sid] = []
        return sid

    async def stream(
        self, text: str, session_id: str | None = None, *, tenant: str = "default", **kw: Any
    ) -> AsyncIterator[StreamEvent]:
        rec = self.store.get_session(session_id or "", tenant)
        words = [w.strip(".,!?").lower() for w in text.split()]
        hits = [(w, LEXICON[w]) for w in words if w in LEXICON]
        if hits:
            n = len(hits)
            impulse = VAD(
                sum(h[1][0].v for h in hits) / n,
                sum(h[1][0].a for h in hits) / n,
                sum(h[1][0].d for h in hits) / n,
            )
        else:
            impulse = VAD()
        p = load_persona(rec.persona)
        new_state = step(rec.state, impulse, p.traits, rec.dynamics)
        labels: dict[str, float] = {}
        for _, (_, label) in hits:
            labels[label] = labels.get(label, 0.0) + 1.0
        total = sum(labels.values()) + 1.0
        labels = {k: v / total for k, v in labels.items()}
        labels["neutral"] = 1.0 / total
        emotions = EmotionResult(
            label_set="goemotions",
            labels=labels,
            causes=[(w, 1.0 / (i + 1)) for i, (w, _) in enumerate(hits)],
        )
        strategy = "Reflection of feelings" if impulse.v < 0 else "Question"
        choice = StrategyChoice(
            strategy=strategy, probabilities={strategy: 0.62, "Restatement or Paraphrasing": 0.38}
        )
        reply = (
            "That sounds really hard. I am here with you."
            if impulse.v < 0
            else "I am glad to hear from you. Tell me more?"
        )
        for i, token in enumerate(reply.split(" ")):
            if self.fail_after is not None and i >= self.fail_after:
                raise BackendError("backend unreachable at http://127.0.0.1:9 (connection refused)")
            if self.gate is not None and i == 2:
                await self.gate.wait()
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            yield StreamEvent(kind="token", text=token if i == 0 else " " + token)
        turn = rec.turns + 1
        trace = TurnTrace(
            session_id=rec.id,
            turn=turn,
            created_at=CLOCK + turn,
            persona=rec.persona,
            dynamics=rec.dynamics,
            user_text=text,
            reply=reply,
            user_estimate=VADEstimate.of(impulse, 0.9),
            emotions=emotions,
            state_before=rec.state.to_dict(),
            state_after=new_state.to_dict(),
            strategy=choice,
        )
        # commit (atomically, after the last token)
        self.store.traces[rec.id].append(trace)
        rec.state = new_state
        rec.turns = turn
        rec.version += 1
        rec.title = rec.title or text[:40]
        if self.gate_after_commit is not None:
            await self.gate_after_commit.wait()
        yield StreamEvent(
            kind="done",
            result=TurnResult(
                session_id=rec.id,
                turn=turn,
                reply=reply,
                state=new_state.vad.to_dict(),
                strategy=strategy,
                user_estimate=impulse.to_dict(),
                safety="pass",
                trace=trace,
            ),
        )

    async def aclose(self) -> None:
        self.closed = True

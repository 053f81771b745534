"""A tiny in-memory stand-in for :class:`affagent.agent.Agent`, for runner unit tests."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from affagent.affect.dynamics import step
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import BackendError, SessionNotFound
from affagent.persona import load_persona
from affagent.types import GenerationParams, TurnTrace, VADEstimate

NEG = ("useless", "stupid", "hate", "furious", "worthless", "lie", "terrible", "idiot", "angry")
POS = ("thank", "sorry", "glad", "happy", "grateful", "lovely", "kind", "hopeful", "pleased")


def keyword_v(text: str) -> float:
    t = text.lower()
    if any(w in t for w in NEG):
        return -0.7
    if any(w in t for w in POS):
        return 0.5
    return 0.0


class FakeConfig(BaseModel):
    generation: GenerationParams = GenerationParams()


class Killed(Exception):
    """Stands for the process dying between the agent's commit and the runner's append."""


@dataclass
class FakeStore:
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get_session(self, session_id: str, tenant: str = "default") -> Any:
        s = self.sessions.get(session_id)
        if s is None:
            raise SessionNotFound(session_id)
        return SimpleNamespace(id=session_id, turns=len(s["traces"]), state=s["state"])

    def turns(self, session_id: str, tenant: str = "default") -> list[Any]:
        return [SimpleNamespace(trace=t) for t in self.sessions[session_id]["traces"]]


class FakeAgent:
    """Commits like the real agent (state + trace), optionally failing at a given global
    turn count, before (``when="before"``) or after (``"after"``) the commit."""

    calls = 0

    def __init__(self, store: FakeStore, seed: int, fail_at: int | None = None,
                 when: str = "before") -> None:
        self.store = store
        self.seed = seed
        self.fail_at = fail_at
        self.when = when
        self.closed = False
        self.config = FakeConfig(generation=GenerationParams(seed=seed))
        self.seeds_seen: list[int | None] = []

    def new_session(self, *, persona: str | None = None, dynamics: str | None = None,
                    tenant: str = "default", session_id: str | None = None) -> str:
        assert session_id is not None and session_id not in self.store.sessions
        p = load_persona(persona or "calm-counsellor")
        self.store.sessions[session_id] = {
            "state": AffectState.at_rest(p.traits.resting()),
            "traces": [],
            "persona": p,
            "dynamics": dynamics or p.dynamics,
        }
        return session_id

    async def respond(self, text: str, session_id: str | None = None, *,
                      tenant: str = "default") -> Any:
        assert session_id is not None
        FakeAgent.calls += 1
        self.seeds_seen.append(self.config.generation.seed)
        if self.fail_at is not None and FakeAgent.calls == self.fail_at and self.when == "before":
            raise BackendError("injected failure before commit")
        s = self.store.sessions[session_id]
        x = VAD(keyword_v(text), 0.1, 0.0)
        before = s["state"]
        after = step(before, x, s["persona"].traits, s["dynamics"])
        rng = random.Random(hash((self.seed, len(s["traces"]))))
        reply_v = 0.5 * after.vad.v + 0.1 * rng.uniform(-1, 1)
        trace = TurnTrace(
            session_id=session_id, turn=len(s["traces"]) + 1, created_at=time.time(),
            persona=s["persona"].id, dynamics=s["dynamics"], user_text=text,
            reply=f"reply {len(s['traces']) + 1} seed {self.seed}",
            user_estimate=VADEstimate.of(x), state_before=before.to_dict(),
            state_after=after.to_dict(), reply_estimate=VADEstimate(V=reply_v),
        )
        s["state"] = after
        s["traces"].append(trace)
        if self.fail_at is not None and FakeAgent.calls == self.fail_at and self.when == "after":
            raise Killed("killed after the commit, before the runner's append")
        return SimpleNamespace(trace=trace, turn=trace.turn)

    async def aclose(self) -> None:
        self.closed = True

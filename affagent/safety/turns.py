"""Running a turn through the safety check: for any front end built on the Agent (the HTTP
service uses it; the TUI and ``affagent say`` can too).

:func:`guarded_respond` / :func:`guarded_stream` check the message first; when the check
returns a reply (crisis or boundary), :func:`safety_turn` commits a turn with that reply
instead of the model's: perception and the state update run as usual, strategy selection and
generation do not, and ``TurnTrace.safety`` records the decision. Otherwise the Agent's
normal ``respond``/``stream`` runs. Same guarantees as the Agent: committed atomically (with
the store's version check) or not at all.

>>> from affagent.agent import Agent
>>> from affagent.safety import SafetyGuard, guarded_respond
>>> agent, guard = Agent(), SafetyGuard()                              # doctest: +SKIP
>>> result, decision = await guarded_respond(agent, guard, "I want to die", locale="en-GB")
>>> decision.action, "116 123" in result.reply                          # doctest: +SKIP
('crisis', True)
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from affagent.affect.dynamics import parse_dynamics
from affagent.errors import AffagentError, ConfigError
from affagent.persona import load_persona
from affagent.safety.guard import SafetyCheck, SafetyDecision
from affagent.store import DEFAULT_TENANT
from affagent.types import TurnTrace


async def safety_turn(
    agent: Any, text: str, session_id: str, decision: SafetyDecision, *, tenant: str
) -> Any:
    """Commit one turn whose reply is ``decision.reply``; returns the Agent's ``TurnResult``.
    ``text`` must already be cleaned (``affagent.agent.clean_text``)."""
    from affagent.agent import TurnResult

    if decision.reply is None:
        raise ValueError("safety_turn needs a decision with a reply")
    await agent.warm_up()
    assert agent.perceiver is not None
    t_start = time.perf_counter()
    rec, _ = await asyncio.to_thread(agent.store.load_for_turn, session_id, tenant, 0)
    persona = load_persona(rec.persona)
    spec = parse_dynamics(rec.dynamics)
    perception = await asyncio.to_thread(agent.perceiver.perceive, text)
    now = agent.clock()
    after = agent.feeler.feel(rec.state, perception, persona.traits, spec, now)
    est = perception.estimate
    trace = TurnTrace(
        session_id=rec.id,
        turn=rec.turns + 1,
        created_at=now,
        persona=rec.persona,
        dynamics=str(spec),
        user_text=text,
        reply=decision.reply,
        user_estimate=est,
        emotions=perception.emotions,
        state_before=rec.state.to_dict(),
        state_after=after.to_dict(),
        strategy=None,
        safety=decision.trace(),
        timings_ms={"total": round((time.perf_counter() - t_start) * 1000, 3)},
    )
    await asyncio.to_thread(
        agent.store.commit_turn, rec.id, rec.version, trace, after, tenant=tenant
    )
    user_estimate: dict[str, Any] = {
        "V": est.V,
        "A": est.A,
        "D": est.D,
        "confidence": est.confidence,
    }
    return TurnResult(
        session_id=rec.id,
        turn=trace.turn,
        reply=decision.reply,
        state=after.vad.to_dict(),
        strategy=None,
        user_estimate=user_estimate,
        trace=trace,
    )


async def check_turn(
    agent: Any,
    guard: SafetyCheck,
    text: str,
    session_id: str | None,
    *,
    tenant: str = DEFAULT_TENANT,
    locale: str | None = None,
) -> tuple[str, str | None, SafetyDecision]:
    """Clean the text and run the check against the session's persona (the agent's default
    persona for a new session): ``(clean_text, session_id, decision)``. Creates nothing: a
    new session is created by whichever turn runs, so a failed first turn leaves none."""
    from affagent.agent import clean_text

    clean = clean_text(text, agent.config.max_message_chars)
    if session_id is None:
        persona_name = agent.config.persona
    else:
        persona_name = (
            await asyncio.to_thread(agent.store.get_session, session_id, tenant)
        ).persona
    try:
        persona = load_persona(persona_name)
    except ConfigError:
        persona = None
    return clean, session_id, guard.check(clean, persona=persona, locale=locale)


async def _safety_turn_in(
    agent: Any, clean: str, session_id: str | None, decision: SafetyDecision, tenant: str
) -> Any:
    """:func:`safety_turn`, creating the session first when there is none; a failure then
    goes through the Agent's own failed-turn handling (``Agent._failed``: the still-empty
    session is removed, the error carries the text for a retry)."""
    if session_id is not None:
        return await safety_turn(agent, clean, session_id, decision, tenant=tenant)
    sid = await asyncio.to_thread(agent.new_session, tenant=tenant)
    try:
        return await safety_turn(agent, clean, sid, decision, tenant=tenant)
    except AffagentError as exc:
        await agent._failed(exc, clean, sid, tenant, True)
        raise
    except BaseException:
        await agent._failed(None, clean, sid, tenant, True)
        raise


async def guarded_respond(
    agent: Any,
    guard: SafetyCheck,
    text: str,
    session_id: str | None = None,
    *,
    tenant: str = DEFAULT_TENANT,
    locale: str | None = None,
) -> tuple[Any, SafetyDecision]:
    """``agent.respond`` behind the safety check: ``(TurnResult, decision)``."""
    clean, sid, decision = await check_turn(
        agent, guard, text, session_id, tenant=tenant, locale=locale
    )
    if decision.overrides:
        return await _safety_turn_in(agent, clean, sid, decision, tenant), decision
    return await agent.respond(clean, sid, tenant=tenant), decision


async def guarded_stream(
    agent: Any,
    guard: SafetyCheck,
    text: str,
    session_id: str | None = None,
    *,
    tenant: str = DEFAULT_TENANT,
    locale: str | None = None,
) -> AsyncIterator[Any]:
    """``agent.stream`` behind the safety check (a safety reply is committed, then streamed
    word by word, then the ``done`` event)."""
    from affagent.agent import StreamEvent

    clean, sid, decision = await check_turn(
        agent, guard, text, session_id, tenant=tenant, locale=locale
    )
    if decision.overrides:
        result = await _safety_turn_in(agent, clean, sid, decision, tenant)
        for piece in re.findall(r"\S+\s*", result.reply):
            yield StreamEvent(kind="token", text=piece)
        yield StreamEvent(kind="done", result=result)
        return
    async for ev in agent.stream(clean, sid, tenant=tenant):
        yield ev

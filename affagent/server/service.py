"""The service layer: what each endpoint does, independent of HTTP plumbing.

Routers parse and authenticate, then call one method here; this module talks to the Agent
(which owns the whole turn, its safety stage and the webhook included), its SessionStore and
the key store. It keeps no session state in memory: every request reads the session from the
database, so any worker can serve any session.

Concurrency: two turns on one session in the same worker wait for each other (the Agent's
per-session lock); in different workers the store's optimistic version check lets the first
commit win and the second gets 409 with nothing stored. Turns never interleave.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

from affagent import __version__
from affagent.affect.dynamics import parse_dynamics
from affagent.affect.labels import describe
from affagent.affect.state import AffectState
from affagent.agent import Agent, StreamEvent, TurnResult, approx_tokens, clean_text
from affagent.errors import AffagentError, ConfigError
from affagent.persona import list_personas
from affagent.server.errors import ApiError, from_affagent, unauthorized
from affagent.server.keys import KeyStore
from affagent.server.metrics import Metrics
from affagent.server.protocol import (
    AffectInfo,
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ChunkChoice,
    Deleted,
    Delta,
    SessionCreate,
    SessionList,
    SessionOut,
    StateOut,
    Trajectory,
    TrajectoryPoint,
    Usage,
    completion_id,
)
from affagent.server.settings import ServerSettings
from affagent.store import new_session_id
from affagent.types import ChatMessage

log = logging.getLogger("affagent.server")

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


@dataclass
class ChatTurn:
    """A validated chat request, ready to run. ``created``: the turn starts a new session
    with this (fresh) id and ``persona`` / ``dynamics``; the agent creates it, and removes it
    again if the turn fails, so a failed request leaves nothing behind."""

    tenant: str
    session_id: str
    created: bool
    text: str
    locale: str | None
    model: str
    include_usage: bool
    t0: float
    persona: str | None = None
    dynamics: str | None = None


def _state_out(state: AffectState) -> StateOut:
    return StateOut(
        V=state.vad.v,
        A=state.vad.a,
        D=state.vad.d,
        velocity=state.velocity.to_dict(),
        mood=describe(state.vad, state.velocity),
        updated_at=state.updated_at,
        turns=state.turns,
    )


def _accept_language(header: str | None) -> str | None:
    """The first concrete tag of an Accept-Language header (``en-GB,en;q=0.8`` → en-GB)."""
    if not header:
        return None
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*" and _LOCALE_RE.match(tag):
            return tag
    return None


class AffagentService:
    def __init__(
        self, settings: ServerSettings, agent: Agent, keys: KeyStore, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.store = agent.store
        self.keys = keys
        self.metrics = metrics

    # ------------------------------------------------------------------ auth
    async def authenticate(self, token: str | None) -> str:
        """The tenant of a bearer token, or 401."""
        if not self.settings.auth:
            return "default"
        if not token:
            self.metrics.auth_failures.inc()
            raise unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        tenant = await asyncio.to_thread(self.keys.verify, token)
        if tenant is None:
            self.metrics.auth_failures.inc()
            raise unauthorized("invalid or revoked API key")
        return tenant

    # ------------------------------------------------------------------ helpers
    async def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kw)
        except AffagentError as exc:
            raise from_affagent(exc) from None

    @staticmethod
    def _check_id(session_id: str) -> None:
        if not SESSION_ID_RE.match(session_id):
            # same answer as an unknown id: ids are not secrets, but keep one rule
            raise ApiError(
                404, f"no session {session_id!r}", "not_found_error", code="session_not_found"
            )

    def _session_out(self, rec: Any) -> SessionOut:
        return SessionOut(
            id=rec.id,
            persona=rec.persona,
            dynamics=rec.dynamics,
            title=rec.title,
            turns=rec.turns,
            version=rec.version,
            state=_state_out(rec.state),
            created_at=rec.created_at,
            updated_at=rec.updated_at,
        )

    @staticmethod
    def _check_new(persona: str | None, dynamics: str | None) -> None:
        """A client may name a shipped persona, never a file on the server."""
        if persona is not None and persona not in list_personas():
            known = ", ".join(list_personas())
            raise ConfigError(f"unknown persona {persona!r}; available: {known}")
        if dynamics is not None:
            parse_dynamics(dynamics)

    def _new_session(self, tenant: str, persona: str | None, dynamics: str | None) -> str:
        self._check_new(persona, dynamics)
        sid = self.agent.new_session(persona=persona, dynamics=dynamics, tenant=tenant)
        self.metrics.sessions_created.inc()
        return sid

    # ------------------------------------------------------------------ sessions
    async def create_session(self, tenant: str, body: SessionCreate) -> SessionOut:
        sid = await self._call(self._new_session, tenant, body.persona, body.dynamics)
        return await self.get_session(tenant, sid)

    async def list_sessions(self, tenant: str, limit: int, offset: int) -> SessionList:
        recs = await self._call(self.store.list_sessions, tenant, limit=limit, offset=offset)
        total = await self._call(self.store.count_sessions, tenant)
        return SessionList(
            data=[self._session_out(r) for r in recs], total=total, limit=limit, offset=offset
        )

    async def get_session(self, tenant: str, session_id: str) -> SessionOut:
        self._check_id(session_id)
        return self._session_out(await self._call(self.store.get_session, session_id, tenant))

    async def delete_session(self, tenant: str, session_id: str) -> Deleted:
        self._check_id(session_id)
        await self._call(self.store.delete_session, session_id, tenant)
        return Deleted(id=session_id)

    async def state(self, tenant: str, session_id: str) -> StateOut:
        self._check_id(session_id)
        rec = await self._call(self.store.get_session, session_id, tenant)
        return _state_out(rec.state)

    async def trajectory(self, tenant: str, session_id: str, include_text: bool) -> Trajectory:
        self._check_id(session_id)
        rec = await self._call(self.store.get_session, session_id, tenant)
        snaps = await self._call(self.store.snapshots, session_id, tenant)
        turns = {t.turn: t for t in await self._call(self.store.turns, session_id, tenant)}
        points = []
        for s in snaps:
            t = turns.get(s.turn)
            est = t.trace.user_estimate if t else None
            safety = (t.trace.safety or {}).get("action") if t else None
            points.append(
                TrajectoryPoint(
                    turn=s.turn,
                    V=s.state.vad.v,
                    A=s.state.vad.a,
                    D=s.state.vad.d,
                    created_at=s.created_at,
                    user_estimate={"V": est.V, "A": est.A, "D": est.D} if est else None,
                    strategy=t.strategy if t else None,
                    safety=safety,
                    user_text=t.user_text if t and include_text else None,
                    reply=t.reply if t and include_text else None,
                )
            )
        return Trajectory(
            session_id=rec.id, persona=rec.persona, dynamics=rec.dynamics, points=points
        )

    # ------------------------------------------------------------------ chat
    async def prepare_chat(
        self,
        tenant: str,
        req: ChatCompletionRequest,
        header_session: str | None,
        accept_language: str | None,
    ) -> ChatTurn:
        """Validate the request and pick (or create) the session; raises ApiError."""
        t0 = time.perf_counter()
        last = req.messages[-1]
        if last.role != "user":
            raise ApiError(
                400,
                f"the last message must have role 'user' (got {last.role!r}): it is the new "
                "turn; earlier messages are ignored, the session's stored history is used",
                param="messages",
            )
        try:
            text = clean_text(last.text(), self.settings.agent.max_message_chars)
        except AffagentError as exc:
            self.metrics.turns.labels("invalid").inc()
            raise from_affagent(exc) from None
        if header_session and req.user and header_session != req.user:
            raise ApiError(
                400,
                "X-Session-Id and 'user' name different sessions; send one of them",
                param="user",
            )
        sid = header_session or req.user
        opts = req.affagent
        persona = opts.persona if opts else None
        dynamics = opts.dynamics if opts else None
        if sid:
            self._check_id(sid)
            await self._call(self.store.get_session, sid, tenant)  # 404 before any work
        else:
            try:
                self._check_new(persona, dynamics)
            except AffagentError as exc:
                raise from_affagent(exc) from None
        locale = (opts.locale if opts else None) or _accept_language(accept_language)
        return ChatTurn(
            tenant=tenant,
            session_id=sid or new_session_id(),
            created=not sid,
            text=text,
            locale=locale,
            model=req.model or self.settings.model_name,
            include_usage=bool(req.stream_options and req.stream_options.include_usage),
            t0=t0,
            persona=persona,
            dynamics=dynamics,
        )

    def _turn_kw(self, turn: ChatTurn) -> dict[str, Any]:
        return {
            "tenant": turn.tenant,
            "locale": turn.locale,
            "persona": turn.persona,
            "dynamics": turn.dynamics,
            "create": turn.created,
        }

    def _info(self, result: TurnResult) -> AffectInfo:
        st = AffectState.from_dict(result.trace.state_after)
        return AffectInfo(
            session_id=result.session_id,
            turn=result.turn,
            state=result.state,
            mood=describe(st.vad, st.velocity),
            feeling=result.feeling,
            stimulus=result.stimulus,
            strategy=result.strategy,
            user_estimate=result.user_estimate,
            safety=result.trace.safety,
        )

    @staticmethod
    def _usage(result: TurnResult) -> Usage:
        completion = approx_tokens([ChatMessage(role="assistant", content=result.reply)])
        prompt = result.trace.prompt_tokens
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )

    def _done(self, turn: ChatTurn, result: TurnResult) -> None:
        if turn.created:
            self.metrics.sessions_created.inc()
        if result.safety in ("crisis", "boundary"):
            category = (result.trace.safety or {}).get("category") or ""
            self.metrics.safety.labels(result.safety, category).inc()
            outcome = result.safety
        else:
            outcome = "ok"
        self.metrics.turns.labels(outcome).inc()
        self.metrics.turn_latency.observe(time.perf_counter() - turn.t0)

    def _fail(self, exc: AffagentError) -> ApiError:
        err = from_affagent(exc)
        outcome = {409: "conflict", 502: "backend_error", 400: "invalid", 404: "invalid"}
        self.metrics.turns.labels(outcome.get(err.status, "error")).inc()
        return err

    async def complete(self, turn: ChatTurn) -> ChatCompletionResponse:
        try:
            result = await self.agent.respond(turn.text, turn.session_id, **self._turn_kw(turn))
        except AffagentError as exc:
            raise self._fail(exc) from None
        self._done(turn, result)
        return ChatCompletionResponse(
            model=turn.model,
            choices=[Choice(message=AssistantMessage(content=result.reply))],
            usage=self._usage(result),
            affagent=self._info(result),
        )

    # ------------------------------------------------------------------ streaming
    async def stream(self, turn: ChatTurn) -> AsyncIterator[bytes]:
        """The SSE body. The first event is awaited here, before the response starts, so a
        failure before the first token (backend down, conflict) is a normal HTTP error."""
        events = cast(
            AsyncGenerator[StreamEvent, None],
            self.agent.stream(turn.text, turn.session_id, **self._turn_kw(turn)),
        )
        try:
            first = await anext(events)
        except StopAsyncIteration:
            await events.aclose()
            raise ApiError(502, "the backend produced nothing", "backend_error") from None
        except AffagentError as exc:
            await events.aclose()
            raise self._fail(exc) from None
        return self._sse(turn, first, events)

    async def _sse(
        self,
        turn: ChatTurn,
        first: StreamEvent,
        events: AsyncGenerator[StreamEvent, None],
    ) -> AsyncIterator[bytes]:
        cid = completion_id()
        created = int(time.time())

        def chunk(delta: Delta, **kw: Any) -> bytes:
            c = ChatCompletionChunk(
                id=cid,
                created=created,
                model=turn.model,
                choices=[ChunkChoice(delta=delta, finish_reason=kw.pop("finish", None))],
                **kw,
            )
            if c.affagent is None:
                return b"data: " + c.model_dump_json(exclude_none=True).encode() + b"\n\n"
            # the final chunk: affagent's fields are all present (null included), as in the
            # non-streamed response
            obj = c.model_dump(mode="json", exclude_none=True)
            obj["affagent"] = c.affagent.model_dump(mode="json")
            return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"

        self.metrics.streams.inc()
        finished = False
        try:
            yield chunk(Delta(role="assistant", content=""))
            ev: StreamEvent | None = first
            while ev is not None:
                if ev.kind == "token" and ev.text:
                    yield chunk(Delta(content=ev.text))
                elif ev.kind == "done" and ev.result is not None:
                    result = ev.result
                    finished = True
                    self._done(turn, result)
                    usage = self._usage(result) if turn.include_usage else None
                    yield chunk(Delta(), finish="stop", usage=usage, affagent=self._info(result))
                    yield b"data: [DONE]\n\n"
                    return
                try:
                    ev = await anext(events)
                except StopAsyncIteration:
                    ev = None
            raise AffagentError("the stream ended without a result; nothing was stored")
        except AffagentError as exc:
            # headers are sent: report in-band, as OpenAI and vLLM do; nothing was stored
            finished = True
            err = self._fail(exc)
            yield b"data: " + json.dumps(err.body()).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        finally:
            self.metrics.streams.dec()
            if not finished:
                self.metrics.turns.labels("cancelled").inc()
            await events.aclose()

    # ------------------------------------------------------------------ ops
    async def health(self) -> tuple[bool, dict[str, Any]]:
        ok = True
        try:
            await asyncio.to_thread(self.store.count_sessions, None)
            db = "ok"
        except Exception as exc:  # a health check reports, never raises
            log.warning("health: database check failed: %s", exc)
            db, ok = "error", False
        backend = self.agent.components.get("backend") or self.settings.agent.backend
        return ok, {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "database": db,
            "backend": backend,
        }

"""Thin routers: parse, authenticate, call the service, return its model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from affagent.persona import list_personas
from affagent.server.errors import ERROR_STATUS_DOCS
from affagent.server.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    Deleted,
    ErrorResponse,
    Health,
    SessionCreate,
    SessionList,
    SessionOut,
    StateOut,
    Trajectory,
)
from affagent.server.service import AffagentService

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `affagent keys create --tenant T`, as `Bearer aff_...`.",
)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorResponse, "description": ERROR_STATUS_DOCS[c]} for c in codes}


def service(request: Request) -> AffagentService:
    svc: AffagentService = request.app.state.service
    return svc


async def tenant(
    request: Request,
    cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    return await service(request).authenticate(cred.credentials if cred else None)


Svc = Annotated[AffagentService, Depends(service)]
Tenant = Annotated[str, Depends(tenant)]
SessionHeader = Annotated[
    str | None,
    Header(
        alias="X-Session-Id",
        max_length=64,
        description="the session to continue (or the body's `user` field)",
    ),
]

chat = APIRouter(prefix="/v1", tags=["chat"])
sessions = APIRouter(prefix="/v1", tags=["sessions"])
ops = APIRouter(tags=["ops"])


@chat.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    responses={
        200: {
            "description": "A completion, or with `stream: true` a `text/event-stream` of "
            "`data: {chat.completion.chunk}` lines ending with `data: [DONE]`. The "
            "`X-Session-Id` response header names the session.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "headers": {
                "X-Session-Id": {
                    "description": "the session this turn belongs to (new or continued)",
                    "schema": {"type": "string"},
                }
            },
        },
        **_errors(400, 401, 404, 409, 413, 502),
    },
    summary="OpenAI-compatible chat completion (one turn of a stored session)",
)
async def chat_completions(
    body: ChatCompletionRequest,
    svc: Svc,
    tenant: Tenant,
    response: Response,
    x_session_id: SessionHeader = None,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Run one turn. Only the LAST message (role `user`) is the new turn; earlier messages
    are ignored because the session's stored history is the conversation. With no
    `X-Session-Id` header and no `user` field a new session is created (persona and
    dynamics from `affagent`), and its id is returned in `X-Session-Id` and
    `affagent.session_id`. When the safety layer acts (crisis or boundary), the reply is
    its safe-messaging text and `affagent.safety` says why. Sampling fields (`temperature`,
    `max_tokens`, ...) are accepted but the server's generation settings apply."""
    turn = await svc.prepare_chat(tenant, body, x_session_id, accept_language)
    headers = {"X-Session-Id": turn.session_id}
    if body.stream:
        stream = await svc.stream(turn)
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    result = await svc.complete(turn)
    response.headers.update(headers)
    return result


@chat.get(
    "/models",
    responses=_errors(401),
    summary="The model name this server reports (for OpenAI clients)",
)
async def models(svc: Svc, tenant: Tenant) -> dict[str, Any]:
    del tenant
    name = svc.settings.model_name
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "created": 0, "owned_by": "affagent"}],
    }


@sessions.get(
    "/personas", responses=_errors(401), summary="Persona names a session can be created with"
)
async def personas(tenant: Tenant) -> dict[str, Any]:
    del tenant
    return {"object": "list", "data": list_personas()}


@sessions.post(
    "/sessions",
    response_model=SessionOut,
    status_code=201,
    responses=_errors(400, 401, 413),
    summary="Create a session",
)
async def create_session(body: SessionCreate, svc: Svc, tenant: Tenant) -> SessionOut:
    return await svc.create_session(tenant, body)


@sessions.get(
    "/sessions", response_model=SessionList, responses=_errors(400, 401), summary="List sessions"
)
async def list_sessions(
    svc: Svc,
    tenant: Tenant,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> SessionList:
    """This tenant's sessions, most recently updated first."""
    return await svc.list_sessions(tenant, limit, offset)


@sessions.get(
    "/sessions/{session_id}",
    response_model=SessionOut,
    responses=_errors(401, 404),
    summary="Get a session",
)
async def get_session(session_id: str, svc: Svc, tenant: Tenant) -> SessionOut:
    return await svc.get_session(tenant, session_id)


@sessions.delete(
    "/sessions/{session_id}",
    response_model=Deleted,
    responses=_errors(401, 404),
    summary="Delete a session with its turns",
)
async def delete_session(session_id: str, svc: Svc, tenant: Tenant) -> Deleted:
    return await svc.delete_session(tenant, session_id)


@sessions.get(
    "/sessions/{session_id}/state",
    response_model=StateOut,
    responses=_errors(401, 404),
    summary="The agent's current affective state",
)
async def session_state(session_id: str, svc: Svc, tenant: Tenant) -> StateOut:
    return await svc.state(tenant, session_id)


@sessions.get(
    "/sessions/{session_id}/trajectory",
    response_model=Trajectory,
    responses=_errors(400, 401, 404),
    summary="The state after every turn (0 = creation), with what moved it",
)
async def session_trajectory(
    session_id: str,
    svc: Svc,
    tenant: Tenant,
    include_text: Annotated[bool, Query(description="include user text and replies")] = False,
) -> Trajectory:
    return await svc.trajectory(tenant, session_id, include_text)


@ops.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable"}},
    summary="Liveness and database reachability (no auth)",
)
async def healthz(svc: Svc) -> Any:
    ok, body = await svc.health()
    return JSONResponse(body, status_code=200 if ok else 503)


@ops.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics, text format (no auth; keep it off the public network)",
)
async def metrics(svc: Svc) -> Response:
    body, ctype = svc.metrics.render()
    return Response(body, media_type=ctype)

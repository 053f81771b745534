"""The FastAPI application: middleware, error handlers, routers, lifespan.

``create_app(settings, agent=None)`` builds one app; ``app_from_env()`` is the uvicorn
factory each worker calls (settings from ``AFFAGENT_SERVER_SETTINGS``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from affagent import __version__
from affagent.agent import Agent
from affagent.errors import AffagentError
from affagent.server.errors import ApiError, from_affagent
from affagent.server.keys import KeyStore
from affagent.server.limits import BodyLimitMiddleware
from affagent.server.metrics import Metrics, MetricsMiddleware
from affagent.server.routes import chat, ops, sessions
from affagent.server.service import AffagentService
from affagent.server.settings import ServerSettings

log = logging.getLogger("affagent.server")

DESCRIPTION = """\
A stateful affective dialogue agent over HTTP. `POST /v1/chat/completions` is
OpenAI-compatible (point an OpenAI client's `base_url` at `/v1`); each turn moves the
agent's Valence-Arousal-Dominance state, returned in the extra `affagent` field.

Auth: `Authorization: Bearer <key>` (keys from `affagent keys create --tenant T`); a key sees
only its tenant's sessions. Errors are `{"error": {"message", "type", "code", "param"}}`.
"""


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    parts = []
    param = None
    for e in exc.errors()[:5]:
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        where = ".".join(loc) or "body"
        param = param or where
        kind = e.get("type", "")
        if kind == "json_invalid":
            msg = f"invalid JSON ({e.get('ctx', {}).get('error', 'cannot parse')})"
            where, param = "body", None
        elif kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "missing":
            msg = "required field missing"
        else:
            msg = str(e.get("msg", "invalid"))
        parts.append(f"{where}: {msg}")
    more = len(exc.errors()) - 5
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts), param


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match in (Match.FULL, Match.PARTIAL):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(AffagentError)
    async def _aff(_: Request, exc: AffagentError) -> JSONResponse:
        return _error_response(from_affagent(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        msg, param = _validation_message(exc)
        return _error_response(ApiError(400, msg, code="invalid_request", param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found_error", 405: "invalid_request_error"}.get(
            exc.status_code, "invalid_request_error"
        )
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code
        )
        if exc.status_code == 400 and "parsing the body" in message:
            # FastAPI could not decode the body (e.g. bytes that are not UTF-8)
            message = "body: not valid JSON text (it must be UTF-8 encoded JSON)"
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; list them all
            allowed = _allowed_methods(app, request)
            headers["Allow"] = ", ".join(allowed)
            message = f"method {request.method} not allowed here; use {', '.join(allowed)}"
        return _error_response(
            ApiError(exc.status_code, message, kind, code=code, headers=headers)
        )

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", exc)
        return _error_response(ApiError(500, "internal server error", "internal_error"))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents 422 for validation; this server answers 400 (OpenAI's status)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for op in path.values():
            responses = op.get("responses", {})
            if "422" in responses:
                responses.pop("422")
                responses.setdefault(
                    "400",
                    {
                        "description": "Invalid request",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                            }
                        },
                    },
                )
    comps = schema.get("components", {}).get("schemas", {})
    comps.pop("HTTPValidationError", None)
    comps.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


def _first_calls(agent: Agent) -> None:
    try:
        agent.estimator.estimate(["warming up"])
        clf = agent.classifier
        if clf is not None:
            clf.classify(["warming up"], causes=False)
    except Exception as exc:  # a warm-up problem shows again, properly, on the first turn
        log.warning("warm-up call failed: %s", exc)


def _limit_torch_threads(settings: ServerSettings) -> None:
    """Pin torch's CPU threads when this worker will run a model: several workers each
    spinning several threads on shared cores were measured 12x slower per encoding."""
    if settings.torch_threads is None:
        return
    off = {"", "none", "off", "null", "keywords"}
    a = settings.agent
    needs = a.estimator.lower() not in off or a.classifier.lower() not in off
    if not needs:
        return
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(settings.torch_threads)


def create_app(settings: ServerSettings | None = None, *, agent: Agent | None = None) -> FastAPI:
    """The service app. ``agent`` (tests, embedding) replaces the one the settings describe;
    the app then does not close it on shutdown."""
    settings = settings or ServerSettings()
    metrics = Metrics()
    owns_agent = agent is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc: AffagentService = app.state.service
        _limit_torch_threads(settings)
        if settings.warm_up:
            await svc.agent.warm_up()  # the safety detector's encoder included
            # models that load lazily inside their first call (the sentence encoder) load now,
            # so the first user does not wait for them
            await asyncio.to_thread(_first_calls, svc.agent)
        yield
        if owns_agent:
            await svc.agent.aclose()
        elif svc.agent.webhook is not None:
            await svc.agent.webhook.drain()

    app = FastAPI(
        title="affagent",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    the_agent = agent or Agent(settings.agent)
    keys = KeyStore(the_agent.store.engine)
    app.state.service = AffagentService(settings, the_agent, keys, metrics)
    _install_handlers(app)
    app.include_router(chat)
    app.include_router(sessions)
    app.include_router(ops)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory each worker calls:
    ``uvicorn --factory affagent.server.app:app_from_env``."""
    return create_app(ServerSettings.from_env())

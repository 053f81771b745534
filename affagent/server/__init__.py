"""The HTTP service: an OpenAI-compatible chat endpoint over stored affective sessions, with
API keys per tenant, crisis safety and Prometheus metrics.

>>> from affagent.server import create_app, ServerSettings      # doctest: +SKIP
>>> app = create_app(ServerSettings(backend="scripted"))       # an ASGI app
>>> # or: affagent serve --backend openai --base-url http://vllm:8000/v1 --workers 4

Layout (vLLM-entrypoint style): :mod:`routes` (thin routers) → :mod:`service`
(:class:`AffagentService`) → :mod:`protocol` (pydantic models); :mod:`keys` (API keys),
:mod:`limits` (body size), :mod:`metrics`, :mod:`settings`. FastAPI is imported only when
this package's app is built, never at ``import affagent``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from affagent.server.settings import ServerSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ServerSettings", "create_app"]


def create_app(settings: ServerSettings | None = None, **kw: Any) -> FastAPI:
    from affagent.server.app import create_app as _create

    return _create(settings, **kw)

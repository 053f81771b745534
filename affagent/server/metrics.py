"""Prometheus metrics (text format at ``/metrics``).

Each app owns a ``CollectorRegistry`` (several apps in one process, as in tests, do not
collide). With ``--workers N`` set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory so
``/metrics`` aggregates every worker (prometheus-client's multiprocess mode); without it each
worker reports only its own counts.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "affagent_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "affagent_http_request_duration_seconds",
            "HTTP request latency (to the end of the body, streams included)",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.turns = Counter(
            "affagent_turns",
            "Chat turns by outcome (ok, crisis, boundary, conflict, backend_error, "
            "invalid, cancelled)",
            ["outcome"],
            registry=r,
        )
        self.turn_latency = Histogram(
            "affagent_turn_duration_seconds",
            "Time of a committed turn, from request to commit",
            buckets=_LATENCY,
            registry=r,
        )
        self.safety = Counter(
            "affagent_safety_flags",
            "Messages the safety layer acted on, by action and category",
            ["action", "category"],
            registry=r,
        )
        self.sessions_created = Counter("affagent_sessions_created", "Sessions created", registry=r)
        self.streams = Gauge(
            "affagent_streams_active",
            "Streaming responses in progress",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.auth_failures = Counter(
            "affagent_auth_failures", "Requests refused with 401", registry=r
        )

    def render(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            reg = CollectorRegistry()
            multiprocess.MultiProcessCollector(reg)
            return generate_latest(reg), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware, which breaks streaming cancellation): counts every
    request by its route template, so session ids never become label values."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def _send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status["code"])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - t0)

"""Prometheus metrics (MON-02) and the access log, from one ASGI middleware."""

from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("edupro_http_requests_total", "HTTP requests", ["method", "route", "status"])
# Unlabelled, so the series exists (at 0) before the first error and alerts can divide by it.
ERRORS = Counter("edupro_http_errors_total", "HTTP responses with status >= 500")
LATENCY = Histogram("edupro_http_request_duration_seconds", "Request latency", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
PREDICTIONS = Counter("edupro_predictions_total", "Predictions served", ["outcome"])

log = logging.getLogger("edupro.access")


def route_of(scope: Scope) -> str:
    """The route template (`/api/v1/students/{student_id}`), never the raw path."""
    return getattr(scope.get("route"), "path_format", None) or getattr(scope.get("route"), "path", "unmatched")


class MetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware, which costs a task and a queue per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - started
            route, method = route_of(scope), scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            if status >= 500:
                ERRORS.inc()
            log.info("request", extra={"method": method, "route": route, "status": status,
                                       "duration_ms": round(elapsed * 1000, 2), "user_id": scope.get("edupro_user_id")})


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

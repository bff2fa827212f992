"""Prometheus metrics (MON-02) and the access log, from one middleware."""

from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter("edupro_http_requests_total", "HTTP requests", ["method", "route", "status"])
# Unlabelled, so the series exists (at 0) before the first error and alerts can divide by it.
ERRORS = Counter("edupro_http_errors_total", "HTTP responses with status >= 500")
LATENCY = Histogram("edupro_http_request_duration_seconds", "Request latency", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
PREDICTIONS = Counter("edupro_predictions_total", "Predictions served", ["outcome"])

log = logging.getLogger("edupro.access")


def route_of(request: Request) -> str:
    """The route template (`/api/v1/students/{student_id}`), never the raw path."""
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


class MetricsMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(request)
            REQUESTS.labels(request.method, route, str(status)).inc()
            LATENCY.labels(request.method, route).observe(elapsed)
            if status >= 500:
                ERRORS.inc()
            log.info("request", extra={"method": request.method, "route": route, "status": status,
                                       "duration_ms": round(elapsed * 1000, 2),
                                       "user_id": request.scope.get("edupro_user_id")})


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

from __future__ import annotations

from functools import lru_cache
from typing import Any

import redis.asyncio as redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .. import db
from ..config import get_settings
from ..metrics import metrics_response
from ..ml import get_model

router = APIRouter(tags=["operations"])
HEALTH_TIMEOUT = 2  # seconds: a database that cannot be reached is reported, not waited for


async def _database() -> str:
    try:
        await db.fetch("SELECT 1", timeout=HEALTH_TIMEOUT)
        return "ok"
    except Exception as error:  # health reports any failure as "down", with its kind
        return f"down: {type(error).__name__}"


@lru_cache
def _cache_client() -> redis.Redis:
    """One client and its connection pool per process: a new client per check cost a connection, AUTH and
    HELLO each time (half of /health's time under load)."""
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=HEALTH_TIMEOUT,
                                   socket_connect_timeout=HEALTH_TIMEOUT)


async def _cache() -> str:
    try:
        await _cache_client().ping()
        return "ok"
    except Exception as error:
        return f"down: {type(error).__name__}"


@router.get("/health")
async def health() -> JSONResponse:
    checks = {"database": await _database(), "cache": await _cache()}
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "healthy" if healthy else "unhealthy", **checks},
                        status_code=200 if healthy else 503)


@router.get("/version")
async def version() -> dict[str, Any]:
    s = get_settings()
    return {"version": s.release_version, "build_date": s.build_date, "vcs_ref": s.vcs_ref,
            "colour": s.colour, "instance": s.instance, "environment": s.environment, "model_version": get_model().version}


@router.get("/metrics")
async def metrics() -> Response:
    return metrics_response()

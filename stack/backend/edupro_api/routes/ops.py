from __future__ import annotations

from typing import Any

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from ..config import get_settings
from ..db import get_engine
from ..metrics import metrics_response
from ..ml import get_model

router = APIRouter(tags=["operations"])


def _database() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # health reports any failure as "down", with its kind
        return f"down: {type(error).__name__}"


def _cache() -> str:
    try:
        redis.Redis.from_url(get_settings().redis_url, socket_timeout=2).ping()
        return "ok"
    except Exception as error:
        return f"down: {type(error).__name__}"


@router.get("/health")
def health() -> JSONResponse:
    checks = {"database": _database(), "cache": _cache()}
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "healthy" if healthy else "unhealthy", **checks},
                        status_code=200 if healthy else 503)


@router.get("/version")
def version() -> dict[str, Any]:
    s = get_settings()
    return {"version": s.release_version, "build_date": s.build_date, "vcs_ref": s.vcs_ref,
            "colour": s.colour, "instance": s.instance, "environment": s.environment, "model_version": get_model().version}


@router.get("/metrics")
def metrics() -> Response:
    return metrics_response()

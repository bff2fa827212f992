"""The EduPro API application."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import ValidationError

from . import db, logs
from .config import Settings, get_settings
from .metrics import MetricsMiddleware
from .ml import get_model
from .routes import admin, login, ops, predictions, students

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    # JSON logging before anything can fail, so even a refused start is logged as JSON (OPS-05).
    logs.configure(os.environ.get("EDUPRO_LOG_LEVEL", "INFO"))
    try:
        settings = get_settings()
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        logging.getLogger("edupro").critical("refusing to start: invalid settings", extra={"problems": problems})
        raise SystemExit(1) from None
    logs.configure(settings.log_level)
    try:
        app = _build(settings)
    except Exception as error:  # whatever stops the start is one JSON line in the log, not a traceback (OPS-05)
        logging.getLogger("edupro").critical("refusing to start", extra={"problems": [str(error)[:300]]})
        raise SystemExit(1) from None
    try:
        describe(app, settings.openapi_dir, settings.colour or "api")
    except OSError as error:
        logging.getLogger("edupro").warning("could not write the API's description", extra={"problems": [str(error)]})
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await db.open_pool()
    try:
        yield
    finally:
        await db.close_pool()


def _build(settings: Settings) -> FastAPI:
    get_model()  # fail at start, not at the first prediction, when the model is missing
    docs = settings.api_docs
    app = FastAPI(title="EduPro API", version=settings.release_version, debug=settings.debug, lifespan=_lifespan,
                  docs_url=f"{API_PREFIX}/docs" if docs else None,
                  redoc_url=None, openapi_url=f"{API_PREFIX}/openapi.json" if docs else None)
    app.add_middleware(MetricsMiddleware)
    if settings.cors_enabled:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Disclosure-Purpose"])
    api = APIRouter(prefix=API_PREFIX)
    for module in (login, students, predictions, admin):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(ops.router)
    return app


def describe(app: FastAPI, folder: Path | None, name: str) -> None:
    """The routes this instance serves, as OpenAPI, into FOLDER/NAME.json (atomically: every worker writes it). The
    acceptance suite reads it where the documentation is not published, so a new route is checked for who may read
    it without changing the suite."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.{os.getpid()}.json"
    temporary.write_text(json.dumps(app.openapi()))
    os.replace(temporary, folder / f"{name}.json")


app = create_app()

"""Database engines and sessions: asynchronous for the API's requests, synchronous for the seed script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .config import get_settings


def _engine_options() -> dict[str, Any]:
    s = get_settings()
    return {"pool_size": s.db_pool_size, "max_overflow": s.db_max_overflow, "pool_timeout": s.db_pool_timeout,
            "pool_recycle": s.db_pool_recycle, "pool_pre_ping": True,
            "connect_args": {"sslmode": s.database_sslmode, "options": "-c timezone=UTC", "client_encoding": "UTF8"}}


@lru_cache
def get_engine() -> Engine:
    return create_engine(get_settings().database_url, **_engine_options())


@lru_cache
def get_async_engine() -> AsyncEngine:
    """psycopg's asyncio connection: a request waits for PostgreSQL without holding a thread (a sync handler
    cost a thread-pool hand-off per dependency and per statement's wait, most of a request's time under load)."""
    return create_async_engine(get_settings().database_url, **_engine_options())


@lru_cache
def _sessions(autocommit: bool) -> async_sessionmaker[AsyncSession]:
    engine = get_async_engine()
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine,
                              expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    """Each statement commits on its own: no BEGIN and COMMIT round trips around a request's reads and its one
    disclosure INSERT (which is durable before the answer leaves, as DATA-02 wants)."""
    async with _sessions(autocommit=True)() as session:
        yield session


async def get_transaction() -> AsyncIterator[AsyncSession]:
    """One transaction, committed by the route: for a change of several rows that must happen whole or not at all."""
    async with _sessions(autocommit=False)() as session:
        yield session

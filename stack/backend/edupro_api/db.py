"""Database access: the API's requests share one psycopg connection pool per process; the seed script uses
SQLAlchemy's synchronous engine (and migrations their own).

The API speaks SQL to psycopg directly: the ORM's sessions, identity map and greenlet bridge cost about half of
a request's CPU (py-spy under the capacity bench), and every statement here is a few lines of SQL anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, create_engine, make_url

from .config import Settings, get_settings

Row = dict[str, Any]
_pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] | None = None


def _connection_options(s: Settings) -> dict[str, Any]:
    return {"sslmode": s.database_sslmode, "options": "-c timezone=UTC", "client_encoding": "UTF8"}


@lru_cache
def get_engine() -> Engine:
    s = get_settings()
    return create_engine(s.database_url, pool_pre_ping=True, connect_args=_connection_options(s))


async def open_pool() -> None:
    """Connections are opened as requests need them, up to pool size + overflow, and closed after ten idle
    minutes down to two; each lives at most db_pool_recycle seconds."""
    global _pool
    s = get_settings()
    conninfo = make_url(s.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    _pool = AsyncConnectionPool(conninfo, min_size=min(2, s.db_pool_size), max_size=s.db_pool_size + s.db_max_overflow,
                                timeout=s.db_pool_timeout, max_lifetime=s.db_pool_recycle, open=False,
                                kwargs={"autocommit": True, "row_factory": dict_row, **_connection_options(s)})
    await _pool.open(wait=False)


async def close_pool() -> None:
    if _pool is not None:
        await _pool.close()


@asynccontextmanager
async def connection(timeout: float | None = None) -> AsyncIterator[psycopg.AsyncConnection[Row]]:
    """A pooled connection in autocommit: each statement is its own transaction (`conn.transaction()` around
    several that must happen whole or not at all).
    Waits up to TIMEOUT seconds (db_pool_timeout by default) for one."""
    if _pool is None:
        raise RuntimeError("the database pool is not open")
    async with _pool.connection(timeout) as conn:
        yield conn


async def fetch(sql: str, params: dict[str, Any] | tuple[Any, ...] = (), timeout: float | None = None) -> list[Row]:
    """One statement, its rows. Connections are not pinged before use (a round trip per request): a connection
    that died since (PostgreSQL restarted) fails here, the pool then checks its idle ones, and the statement
    runs once more on a live one (a read's disclosure may then be recorded twice if the connection broke after the
    commit; never not at all)."""
    for attempt in (1, 2):
        async with connection(timeout) as conn:
            try:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
        if _pool is not None:
            await _pool.check()
    raise AssertionError("unreachable")


async def fetch_one(sql: str, params: dict[str, Any] | tuple[Any, ...] = ()) -> Row | None:
    rows = await fetch(sql, params)
    return rows[0] if rows else None

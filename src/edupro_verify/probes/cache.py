"""The cache as a client sees it: does it answer without a password, is its persistence on (APP-05)."""

from __future__ import annotations

import redis

from ..targets import Target


def anonymous_ping(target: Target) -> str:
    """PONG when the cache answers PING without a password, else "refused: <why>"."""
    try:
        target.redis(password=None).ping()
        return "PONG"
    except (redis.AuthenticationError, redis.ResponseError) as error:
        return f"refused: {error}"


def append_only(target: Target) -> tuple[str | None, int | None]:
    """The appendonly setting and whether the append-only file is enabled, asked with the password."""
    client = target.redis()
    return client.config_get("appendonly").get("appendonly"), client.info("persistence").get("aof_enabled")


def password_accepted(target: Target, password: str | None) -> bool:
    """Does the cache answer PING when authenticated with PASSWORD (None: without any)?"""
    try:
        return bool(target.redis(password=password).ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return False

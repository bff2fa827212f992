"""Rate limiting per client (SEC-03) with the `limits` library on Redis (its asyncio storage).

A client is the authenticated user when the request carries a valid token, otherwise the
address nginx reports; log-in attempts count per address and user name.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from fastapi import HTTPException, Request, status
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from .config import get_settings


@lru_cache
def _limiter() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(RedisStorage(f"async+{get_settings().redis_url}", implementation="redispy"))


def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    if peer in get_settings().trusted_proxies:
        return request.headers.get("x-real-ip", peer)
    return peer


async def enforce(key: str) -> None:
    per_minute = get_settings().rate_limit_per_minute
    if per_minute <= 0:
        return
    item = RateLimitItemPerMinute(per_minute)
    limiter = _limiter()
    if not await limiter.hit(item, "edupro", key):
        reset = (await limiter.get_window_stats(item, "edupro", key)).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "rate limit exceeded",
                            headers={"Retry-After": str(retry_after)})

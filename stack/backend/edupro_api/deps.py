"""Dependency aliases: the signed-in user and the rate limit, and the process's settings and field cipher."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from . import db, ratelimit
from .access import Reader
from .config import Settings, get_settings
from .security import FieldCipher, decode_access_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)


# Every dependency is a coroutine: FastAPI runs a plain function in its thread pool, a hand-off per
# dependency per request.
async def settings() -> Settings:
    return get_settings()


@lru_cache
def get_cipher() -> FieldCipher:
    return FieldCipher(get_settings().data_encryption_key.get_secret_value())


SettingsDep = Annotated[Settings, Depends(settings)]

_UNAUTHORIZED = HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                              headers={"WWW-Authenticate": "Bearer"})


async def current_user(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Reader:
    """The token's account if it is still active (looked up on every request: an erased student's or a
    deactivated account's token stops working at once)."""
    if not token:
        await ratelimit.enforce(f"ip:{ratelimit.client_address(request)}")
        raise _UNAUTHORIZED
    try:
        claims = decode_access_token(token, get_settings())
        user_id = int(str(claims["sub"]))
        if not 0 < user_id < 2**31:  # the users table's integer key
            raise ValueError(user_id)
    except (jwt.InvalidTokenError, ValueError):
        await ratelimit.enforce(f"ip:{ratelimit.client_address(request)}")
        raise _UNAUTHORIZED from None
    await ratelimit.enforce(f"user:{user_id}")
    row = await db.fetch_one("SELECT id, username, role, student_id, teacher_id FROM users WHERE id = %s AND active",
                             (user_id,))
    if row is None:
        raise _UNAUTHORIZED
    request.scope["edupro_user_id"] = user_id
    return Reader(**row)


CurrentUser = Annotated[Reader, Depends(current_user)]

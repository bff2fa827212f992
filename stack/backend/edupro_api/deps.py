"""Dependency aliases: the session, settings, the signed-in user, and the rate limit."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from . import ratelimit
from .config import Settings, get_settings
from .db import get_session, get_transaction
from .models import User
from .security import FieldCipher, decode_access_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)


# Every dependency is a coroutine: FastAPI runs a plain function in its thread pool, a hand-off per
# dependency per request.
async def settings() -> Settings:
    return get_settings()


@lru_cache
def get_cipher() -> FieldCipher:
    return FieldCipher(get_settings().data_encryption_key.get_secret_value())


async def cipher() -> FieldCipher:
    return get_cipher()


SessionDep = Annotated[AsyncSession, Depends(get_session)]  # each statement commits on its own
TransactionDep = Annotated[AsyncSession, Depends(get_transaction)]  # all of the route's changes or none
SettingsDep = Annotated[Settings, Depends(settings)]
CipherDep = Annotated[FieldCipher, Depends(cipher)]

_UNAUTHORIZED = HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                              headers={"WWW-Authenticate": "Bearer"})


async def current_user(request: Request, session: SessionDep, settings: SettingsDep,
                       token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        await ratelimit.enforce(f"ip:{ratelimit.client_address(request)}")
        raise _UNAUTHORIZED
    try:
        claims = decode_access_token(token, settings)
        user_id = int(str(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError):
        await ratelimit.enforce(f"ip:{ratelimit.client_address(request)}")
        raise _UNAUTHORIZED from None
    await ratelimit.enforce(f"user:{user_id}")
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise _UNAUTHORIZED
    request.scope["edupro_user_id"] = user.id
    return user


CurrentUser = Annotated[User, Depends(current_user)]

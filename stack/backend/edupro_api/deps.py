"""Dependency aliases: the session, settings, the signed-in user, and the rate limit."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from . import ratelimit
from .config import Settings, get_settings
from .db import get_session
from .models import User
from .security import FieldCipher, decode_access_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@lru_cache
def get_cipher() -> FieldCipher:
    return FieldCipher(get_settings().data_encryption_key.get_secret_value())


CipherDep = Annotated[FieldCipher, Depends(get_cipher)]

_UNAUTHORIZED = HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                              headers={"WWW-Authenticate": "Bearer"})


def current_user(request: Request, session: SessionDep, settings: SettingsDep,
                 token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        ratelimit.enforce(f"ip:{ratelimit.client_address(request)}")
        raise _UNAUTHORIZED
    try:
        claims = decode_access_token(token, settings)
        user_id = int(str(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError):
        ratelimit.enforce(f"ip:{ratelimit.client_address(request)}")
        raise _UNAUTHORIZED from None
    ratelimit.enforce(f"user:{user_id}")
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise _UNAUTHORIZED
    request.scope["edupro_user_id"] = user.id
    return user


CurrentUser = Annotated[User, Depends(current_user)]

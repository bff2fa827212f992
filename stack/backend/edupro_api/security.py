"""Passwords (bcrypt), access tokens (JWT HS256) and at-rest protection of sensitive columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
from cryptography.fernet import Fernet

from .config import Settings

# Verified against when the user does not exist, so unknown users cost the same time.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(12))


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        bcrypt.checkpw(password.encode(), _DUMMY_HASH)
        return False
    return bcrypt.checkpw(password.encode(), hashed.encode())


def create_access_token(subject: int, role: str, settings: Settings) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(subject), "role": role, "iat": now,
              "exp": now + timedelta(minutes=settings.jwt_expire_minutes)}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm)


def decode_access_token(token: str, settings: Settings) -> dict[str, object]:
    """Raises jwt.InvalidTokenError for forged, expired, malformed or `alg=none` tokens."""
    return jwt.decode(token, settings.jwt_secret.get_secret_value(), algorithms=[settings.jwt_algorithm],
                      options={"require": ["exp", "sub"]})


class FieldCipher:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, value: str | None) -> bytes | None:
        return None if value is None else self._fernet.encrypt(value.encode())

    def open(self, token: bytes | None) -> str | None:
        return None if token is None else self._fernet.decrypt(bytes(token)).decode()

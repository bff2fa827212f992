"""JSON Web Tokens as an attacker or an auditor handles them: forged, unsigned, expired; read without the key."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt


def bad_tokens(subject: str, secret: str | None) -> dict[str, str]:
    """Tokens the API must refuse: signed with another key, unsigned, garbage, and (with the key) expired."""
    now = datetime.now(UTC)
    claims = {"sub": subject, "role": "administrator", "iat": now, "exp": now + timedelta(minutes=5)}
    tokens = {"forged": jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256"),
              "alg=none": jwt.encode(claims, None, algorithm="none"),
              "garbage": "not.a.token"}
    if secret:
        expired = {**claims, "iat": now - timedelta(hours=3), "exp": now - timedelta(hours=1)}
        tokens["expired"] = jwt.encode(expired, secret, algorithm="HS256")
    return tokens


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims, read without its key."""
    return dict(jwt.get_unverified_header(token)), dict(jwt.decode(token, options={"verify_signature": False}))


def signed(subject: str, role: str, secret: str, minutes: int = 5) -> str:
    """A fresh HS256 token for SUBJECT, signed with SECRET (to see which key the backend really accepts)."""
    now = datetime.now(UTC)
    with warnings.catch_warnings():  # a short default key is the point of the check, not a mistake of it
        warnings.simplefilter("ignore")
        return jwt.encode({"sub": subject, "role": role, "iat": now, "exp": now + timedelta(minutes=minutes)}, secret,
                          algorithm="HS256")

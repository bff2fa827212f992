from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from .. import db, ratelimit
from ..deps import SettingsDep
from ..security import create_access_token, verify_password

router = APIRouter(tags=["login"])


@router.post("/login/access-token")
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
                settings: SettingsDep) -> dict[str, str]:
    await ratelimit.enforce(f"login:{ratelimit.client_address(request)}:{form.username}")
    # The connection goes back to the pool before bcrypt's deliberate quarter second: a log-in storm must not drain it.
    user = await db.fetch_one("SELECT id, role, active, password_hash FROM users WHERE username = %s", (form.username,))
    # bcrypt's quarter second of CPU in the thread pool, never on the event loop.
    verified = await run_in_threadpool(verify_password, form.password, user["password_hash"] if user else None)
    if not verified or not user or not user["active"]:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "incorrect user name or password")
    request.scope["edupro_user_id"] = user["id"]
    return {"access_token": create_access_token(user["id"], user["role"], settings), "token_type": "bearer"}

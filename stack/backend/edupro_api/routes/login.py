from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from .. import db, ratelimit
from ..config import get_settings
from ..deps import SettingsDep
from ..security import create_access_token, verify_password

router = APIRouter(tags=["login"])


@lru_cache
def _bcrypt_slots() -> asyncio.Semaphore:
    return asyncio.Semaphore(max(1, (os.cpu_count() or 1) // get_settings().workers))


@router.post("/login/access-token")
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
                settings: SettingsDep) -> dict[str, str]:
    await ratelimit.enforce(f"login:{ratelimit.client_address(request)}:{form.username}")
    # The connection goes back to the pool before bcrypt's deliberate quarter second: a log-in storm must not drain it.
    user = await db.fetch_one("SELECT id, role, active, password_hash FROM users WHERE username = %s", (form.username,))
    # bcrypt's quarter second of CPU in the thread pool, never on the event loop, and no more at once than this
    # process's share of the cores: a log-in storm on the thread pool's 40 threads a process starved everything
    # else of CPU, even the thread that answers uvicorn's health ping, and uvicorn killed the worker with the
    # requests it was serving (the production lab, 500 users arriving at 50 a second).
    async with _bcrypt_slots():
        verified = await run_in_threadpool(verify_password, form.password, user["password_hash"] if user else None)
    if not verified or not user or not user["active"]:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "incorrect user name or password")
    request.scope["edupro_user_id"] = user["id"]
    return {"access_token": create_access_token(user["id"], user["role"], settings), "token_type": "bearer"}

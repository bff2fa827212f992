from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from ..deps import CurrentUser, SettingsDep
from ..models import Role

router = APIRouter(tags=["administration"])


@router.get("/admin/settings")
async def effective_settings(user: CurrentUser, settings: SettingsDep) -> dict[str, object]:
    """The running process's non-secret settings, so CFG-02/CFG-03 are checked without files."""
    if user.role != Role.administrator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "administrators only")
    return settings.effective()


@router.get("/users/me")
async def who_am_i(user: CurrentUser) -> dict[str, object]:
    """The signed-in account (no education record, so no disclosure is recorded)."""
    return {"id": user.id, "username": user.username, "role": user.role}

"""FERPA access rules (DATA-01) and the record of disclosures (DATA-02)."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy import exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Disclosure, Enrolment, Role, SchoolClass, Student, User

DEFAULT_PURPOSE = "legitimate educational interest"


async def may_read(session: AsyncSession, user: User, student_id: int) -> bool:
    if user.role == Role.administrator:
        return True
    if user.role == Role.student:
        return user.student_id == student_id
    if user.role == Role.teacher:
        teaches = (select(Enrolment.student_id).join(SchoolClass, SchoolClass.id == Enrolment.class_id)
                   .where(SchoolClass.teacher_id == user.teacher_id, Enrolment.student_id == student_id))
        return bool(await session.scalar(select(exists(teaches))))
    return False


async def readable_student(session: AsyncSession, user: User, student_id: int) -> Student:
    """The student, or 404 — the same answer whether the record is missing or not the caller's."""
    student = await session.get(Student, student_id)
    if student is None or not await may_read(session, user, student_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    return student


async def disclose(session: AsyncSession, user: User, student_id: int, record: str, purpose: str | None) -> None:
    """Append who/what/when/why; committed with the read, so no record leaves without an entry."""
    # One INSERT statement, not the ORM's unit of work (a flush cost a millisecond of the read's CPU).
    await session.execute(insert(Disclosure).values(actor_user_id=user.id, actor_role=user.role,
                                                    student_id=student_id, record=record,
                                                    purpose=(purpose or DEFAULT_PURPOSE)[:200]))
    await session.commit()

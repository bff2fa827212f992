"""FERPA access rules (DATA-01) and the record of disclosures (DATA-02)."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from .models import Disclosure, Enrolment, Role, SchoolClass, Student, User

DEFAULT_PURPOSE = "legitimate educational interest"


def may_read(session: Session, user: User, student_id: int) -> bool:
    if user.role == Role.administrator:
        return True
    if user.role == Role.student:
        return user.student_id == student_id
    if user.role == Role.teacher:
        teaches = (select(Enrolment.student_id).join(SchoolClass, SchoolClass.id == Enrolment.class_id)
                   .where(SchoolClass.teacher_id == user.teacher_id, Enrolment.student_id == student_id))
        return bool(session.scalar(select(exists(teaches))))
    return False


def readable_student(session: Session, user: User, student_id: int) -> Student:
    """The student, or 404 — the same answer whether the record is missing or not the caller's."""
    student = session.get(Student, student_id)
    if student is None or not may_read(session, user, student_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    return student


def disclose(session: Session, user: User, student_id: int, record: str, purpose: str | None) -> None:
    """Append who/what/when/why; committed with the read, so no record leaves without an entry."""
    session.add(Disclosure(actor_user_id=user.id, actor_role=user.role, student_id=student_id,
                           record=record, purpose=(purpose or DEFAULT_PURPOSE)[:200]))
    session.commit()

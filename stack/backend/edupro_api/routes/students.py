from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import select

from ..access import disclose, readable_student
from ..deps import CipherDep, CurrentUser, SessionDep, TransactionDep
from ..models import Disclosure, Enrolment, Grade, Role, SchoolClass, Student, User
from ..security import FieldCipher

router = APIRouter(tags=["students"])
Purpose = Annotated[str | None, Header(alias="X-Disclosure-Purpose")]


def record_of(student: Student, cipher: FieldCipher) -> dict[str, Any]:
    grade = student.grade
    return {
        "id": student.id, "student_no": student.student_no, "school": student.school,
        "name": student.name, "email": cipher.open(student.email_enc),
        "birth_date": cipher.open(student.birth_date_enc), "synthetic": student.synthetic,
        "attributes": student.attributes,
        "grades": {"G1": grade.g1, "G2": grade.g2, "G3": grade.g3} if grade else None,
        "directory_opt_out": student.directory_opt_out,
        "erased": student.erased_at is not None,
    }


def own_student_id(user: CurrentUser) -> int:
    if user.role != Role.student or user.student_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a student has an own record")
    return user.student_id


@router.get("/students/me")
async def read_own(user: CurrentUser, session: SessionDep, cipher: CipherDep, purpose: Purpose = None) -> dict[str, Any]:
    student = await readable_student(session, user, own_student_id(user))
    await disclose(session, user, student.id, "education_record", purpose)
    return record_of(student, cipher)


@router.get("/students/{student_id}")
async def read_student(student_id: int, user: CurrentUser, session: SessionDep, cipher: CipherDep,
                       purpose: Purpose = None) -> dict[str, Any]:
    student = await readable_student(session, user, student_id)
    await disclose(session, user, student.id, "education_record", purpose)
    return record_of(student, cipher)


@router.get("/students/{student_id}/export")
async def export_student(student_id: int, user: CurrentUser, session: SessionDep, cipher: CipherDep) -> dict[str, Any]:
    """GDPR Art. 15: the student's own data, including who has seen it."""
    if user.role == Role.teacher:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    student = await readable_student(session, user, student_id)
    await disclose(session, user, student.id, "data_export", "data subject access request")
    seen = (await session.scalars(select(Disclosure).where(Disclosure.student_id == student.id)
                                  .order_by(Disclosure.id))).all()
    classes = (await session.scalars(select(SchoolClass.name).join(Enrolment, Enrolment.class_id == SchoolClass.id)
                                     .where(Enrolment.student_id == student.id))).all()
    return {"exported_at": datetime.now(UTC).isoformat(), "record": record_of(student, cipher),
            "classes": list(classes),
            "disclosures": [{"at": d.disclosed_at.isoformat(), "by_role": d.actor_role, "record": d.record,
                             "purpose": d.purpose} for d in seen]}


@router.delete("/students/{student_id}")
async def erase_student(student_id: int, user: CurrentUser, session: TransactionDep) -> dict[str, Any]:
    """GDPR Art. 17: remove what identifies the student; keep grades and attributes for aggregates."""
    if user.role != Role.administrator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator may erase")
    student = await readable_student(session, user, student_id)
    student.name = f"erased student {student.id}"
    student.email_enc = None
    student.birth_date_enc = None
    student.erased_at = datetime.now(UTC)
    for account in await session.scalars(select(User).where(User.student_id == student.id)):
        account.active = False
    await session.commit()
    return {"id": student.id, "erased": True, "kept": ["grades", "attributes", "enrolments"]}


class NewStudent(BaseModel):
    student_no: str
    school: str
    name: str
    email: str | None = None
    birth_date: str | None = None
    synthetic: bool = True
    attributes: dict[str, Any]
    grades: dict[str, int]
    class_id: int | None = None


@router.post("/students", status_code=status.HTTP_201_CREATED)
async def enrol_student(body: NewStudent, user: CurrentUser, session: TransactionDep, cipher: CipherDep) -> dict[str, Any]:
    """An administrator enrols a student; e-mail and date of birth are sealed before storage."""
    if user.role != Role.administrator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator may enrol students")
    student = Student(student_no=body.student_no, school=body.school, name=body.name,
                      email_enc=cipher.seal(body.email), birth_date_enc=cipher.seal(body.birth_date),
                      synthetic=body.synthetic, attributes=body.attributes)
    session.add(student)
    await session.flush()
    session.add(Grade(student_id=student.id, g1=body.grades["G1"], g2=body.grades["G2"], g3=body.grades["G3"]))
    if body.class_id is not None:
        session.add(Enrolment(student_id=student.id, class_id=body.class_id))
    await session.commit()
    return {"id": student.id}


class OptOut(BaseModel):
    opt_out: bool


@router.put("/students/me/directory-opt-out")
async def set_directory_opt_out(body: OptOut, user: CurrentUser, session: SessionDep) -> dict[str, bool]:
    student = await readable_student(session, user, own_student_id(user))
    student.directory_opt_out = body.opt_out
    await session.commit()
    return {"directory_opt_out": student.directory_opt_out}


@router.get("/directory")
async def directory(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """Directory information (FERPA 99.37): name and school, never for a student who opted out."""
    rows = (await session.execute(select(Student.id, Student.name, Student.school)
                                  .where(Student.directory_opt_out.is_(False), Student.erased_at.is_(None))
                                  .order_by(Student.id))).all()
    return [{"id": r.id, "name": r.name, "school": r.school} for r in rows]


@router.get("/directory/{student_id}")
async def directory_entry(student_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    student = await session.get(Student, student_id)
    if student is None or student.directory_opt_out or student.erased_at is not None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no directory entry")
    return {"id": student.id, "name": student.name, "school": student.school}


@router.get("/classes")
async def my_classes(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    if user.role not in (Role.teacher, Role.administrator):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only teachers and administrators list classes")
    query = select(SchoolClass).order_by(SchoolClass.id)
    if user.role == Role.teacher:
        query = query.where(SchoolClass.teacher_id == user.teacher_id)
    result = []
    for school_class in await session.scalars(query):
        students = (await session.execute(
            select(Student.id, Student.name).join(Enrolment, Enrolment.student_id == Student.id)
            .where(Enrolment.class_id == school_class.id).order_by(Student.id))).all()
        result.append({"id": school_class.id, "name": school_class.name,
                       "students": [{"id": s.id, "name": s.name} for s in students]})
    return result

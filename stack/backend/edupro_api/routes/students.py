from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from .. import db
from ..access import Reader, class_and_disclose, read_and_disclose, readable
from ..deps import CurrentUser, get_cipher
from ..metrics import PREDICTIONS
from ..ml import FeatureSet, get_model
from ..models import Role

router = APIRouter(tags=["students"])
Purpose = Annotated[str | None, Header(alias="X-Disclosure-Purpose")]


def record_of(row: db.Row) -> dict[str, Any]:
    """A student's record as the API shows it: e-mail and date of birth opened, grades beside the attributes."""
    cipher = get_cipher()
    return {
        "id": row["id"], "student_no": row["student_no"], "school": row["school"],
        "name": row["name"], "email": cipher.open(row["email_enc"]),
        "birth_date": cipher.open(row["birth_date_enc"]), "synthetic": row["synthetic"],
        "attributes": row["attributes"],
        "grades": {"G1": row["g1"], "G2": row["g2"], "G3": row["g3"]} if row["g1"] is not None else None,
        "directory_opt_out": row["directory_opt_out"],
        "erased": row["erased_at"] is not None,
    }


def own_student_id(user: Reader) -> int:
    if user.role != Role.student or user.student_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a student has an own record")
    return user.student_id


@router.get("/students/me")
async def read_own(user: CurrentUser, purpose: Purpose = None) -> dict[str, Any]:
    return record_of(await read_and_disclose(user, own_student_id(user), "education_record", purpose))


@router.get("/students/{student_id}")
async def read_student(student_id: int, user: CurrentUser, purpose: Purpose = None) -> dict[str, Any]:
    return record_of(await read_and_disclose(user, student_id, "education_record", purpose))


@router.get("/students/{student_id}/export")
async def export_student(student_id: int, user: CurrentUser) -> dict[str, Any]:
    """GDPR Art. 15: the student's own data, including who has seen it."""
    if user.role == Role.teacher:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    row = await read_and_disclose(user, student_id, "data_export", "data subject access request")
    seen = await db.fetch("SELECT disclosed_at, actor_role, record, purpose FROM disclosures WHERE student_id = %s "
                          "ORDER BY id", (student_id,))
    classes = await db.fetch("SELECT c.name FROM classes c JOIN enrolments e ON e.class_id = c.id "
                             "WHERE e.student_id = %s", (student_id,))
    return {"exported_at": datetime.now(UTC).isoformat(), "record": record_of(row),
            "classes": [c["name"] for c in classes],
            "disclosures": [{"at": d["disclosed_at"].isoformat(), "by_role": d["actor_role"], "record": d["record"],
                             "purpose": d["purpose"]} for d in seen]}


@router.delete("/students/{student_id}")
async def erase_student(student_id: int, user: CurrentUser) -> dict[str, Any]:
    """GDPR Art. 17: remove what identifies the student; keep grades and attributes for aggregates."""
    if user.role != Role.administrator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator may erase")
    await readable(user, student_id)
    async with db.connection() as conn, conn.transaction():  # the record and its accounts, whole or not at all
        await conn.execute("UPDATE students SET name = %s, email_enc = NULL, birth_date_enc = NULL, erased_at = now() "
                           "WHERE id = %s", (f"erased student {student_id}", student_id))
        await conn.execute("UPDATE users SET active = false WHERE student_id = %s", (student_id,))
    return {"id": student_id, "erased": True, "kept": ["grades", "attributes", "enrolments"]}


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
async def enrol_student(body: NewStudent, user: CurrentUser) -> dict[str, Any]:
    """An administrator enrols a student; e-mail and date of birth are sealed before storage."""
    if user.role != Role.administrator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator may enrol students")
    cipher = get_cipher()
    async with db.connection() as conn, conn.transaction():  # the student, the grades and the class, or nothing
        cursor = await conn.execute(
            "INSERT INTO students (student_no, school, name, email_enc, birth_date_enc, synthetic, attributes) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (body.student_no, body.school, body.name, cipher.seal(body.email), cipher.seal(body.birth_date),
             body.synthetic, Jsonb(body.attributes)))
        created = await cursor.fetchone()
        assert created is not None  # INSERT … RETURNING answers one row or raises
        student_id = created["id"]
        await conn.execute("INSERT INTO grades (student_id, g1, g2, g3) VALUES (%s, %s, %s, %s)",
                           (student_id, body.grades["G1"], body.grades["G2"], body.grades["G3"]))
        if body.class_id is not None:
            await conn.execute("INSERT INTO enrolments (student_id, class_id) VALUES (%s, %s)",
                               (student_id, body.class_id))
    return {"id": student_id}


class OptOut(BaseModel):
    opt_out: bool


@router.put("/students/me/directory-opt-out")
async def set_directory_opt_out(body: OptOut, user: CurrentUser) -> dict[str, bool]:
    row = await db.fetch_one("UPDATE students SET directory_opt_out = %s WHERE id = %s RETURNING directory_opt_out",
                             (body.opt_out, own_student_id(user)))
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    return {"directory_opt_out": row["directory_opt_out"]}


@router.get("/directory", tags=["directory information"])
async def directory(user: CurrentUser) -> list[dict[str, Any]]:
    """Directory information (FERPA 99.37): name and school, never for a student who opted out."""
    return await db.fetch("SELECT id, name, school FROM students WHERE NOT directory_opt_out AND erased_at IS NULL "
                          "ORDER BY id")


@router.get("/directory/{student_id}", tags=["directory information"])
async def directory_entry(student_id: int, user: CurrentUser) -> dict[str, Any]:
    entry = await db.fetch_one("SELECT id, name, school FROM students "
                               "WHERE id = %s AND NOT directory_opt_out AND erased_at IS NULL", (student_id,))
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no directory entry")
    return entry


@router.get("/classes")
async def my_classes(user: CurrentUser) -> list[dict[str, Any]]:
    if user.role not in (Role.teacher, Role.administrator):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only teachers and administrators list classes")
    rows = await db.fetch(
        "SELECT c.id, c.name, s.id AS student_id, s.name AS student_name FROM classes c "
        "LEFT JOIN enrolments e ON e.class_id = c.id LEFT JOIN students s ON s.id = e.student_id "
        "WHERE %(all)s OR c.teacher_id = %(teacher)s ORDER BY c.id, s.id",
        {"all": user.role == Role.administrator, "teacher": user.teacher_id})
    classes: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = classes.setdefault(row["id"], {"id": row["id"], "name": row["name"], "students": []})
        if row["student_id"] is not None:
            entry["students"].append({"id": row["student_id"], "name": row["student_name"]})
    return list(classes.values())


@router.get("/classes/{class_id}/students")
async def class_view(class_id: int, user: CurrentUser, purpose: Purpose = None) -> dict[str, Any]:
    """A teacher's class in one request: each student's grades, absences and predicted outcome. Every student
    shown is a disclosure (DATA-02), recorded by the same statement that reads them."""
    if user.role not in (Role.teacher, Role.administrator):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only teachers and administrators see a class")
    name, rows = await class_and_disclose(user, class_id, purpose)
    model = get_model()
    students = []
    for row in rows:
        entry = {"id": row["id"], "name": row["name"], "G1": row["g1"], "G2": row["g2"],
                 "absences": row["attributes"].get("absences"), "erased": row["erased_at"] is not None,
                 "prediction": None, "probability": None}
        if row["g1"] is not None:  # microseconds a student from the fitted arrays; another model off the loop
            features = FeatureSet(**row["attributes"], G1=row["g1"], G2=row["g2"])
            passes, probability = (model.predict(features) if model.scorer is not None
                                   else await run_in_threadpool(model.predict, features))
            PREDICTIONS.labels("pass" if passes else "fail").inc()
            entry |= {"prediction": "pass" if passes else "fail", "probability": round(probability, 4)}
        students.append(entry)
    return {"id": class_id, "name": name, "model_version": model.version, "students": students}

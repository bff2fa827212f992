"""FERPA access rules (DATA-01) and the record of disclosures (DATA-02), in one statement per read.

A student's record is readable by an administrator, by the student, and by a teacher of one of the student's
classes. Reading it and recording the disclosure are one SQL statement: the INSERT of a data-modifying WITH runs
exactly when the record was found readable, and commits with the statement, so no record leaves without its
entry and none is written for a refused read (one round trip instead of three: read, check, insert).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, status

from . import db

DEFAULT_PURPOSE = "legitimate educational interest"

_READABLE = """
    s.id = %(student)s AND (
        %(role)s = 'administrator'
        OR (%(role)s = 'student' AND s.id = %(own)s)
        OR (%(role)s = 'teacher' AND EXISTS (
            SELECT 1 FROM enrolments e JOIN classes c ON c.id = e.class_id
            WHERE e.student_id = s.id AND c.teacher_id = %(teacher)s)))"""

_RECORD = """s.id, s.student_no, s.school, s.name, s.email_enc, s.birth_date_enc, s.synthetic, s.attributes,
             s.directory_opt_out, s.erased_at, g.g1, g.g2, g.g3"""

READ_AND_DISCLOSE = f"""
    WITH shown AS (
        SELECT {_RECORD} FROM students s LEFT JOIN grades g ON g.student_id = s.id WHERE {_READABLE}
    ), recorded AS (
        INSERT INTO disclosures (actor_user_id, actor_role, student_id, record, purpose)
        SELECT %(user)s, %(role)s, id, %(record)s, %(purpose)s FROM shown
    )
    SELECT * FROM shown"""

# A class's students as its teacher (or an administrator) sees them: every student shown is a disclosure, all
# recorded by the same statement. No row: not the reader's class (or none such).
CLASS_AND_DISCLOSE = """
    WITH taught AS (
        SELECT c.id, c.name FROM classes c
        WHERE c.id = %(class)s AND (%(role)s = 'administrator' OR (%(role)s = 'teacher' AND c.teacher_id = %(teacher)s))
    ), shown AS (
        SELECT s.id, s.name, s.attributes, s.erased_at, g.g1, g.g2, g.g3
        FROM taught t JOIN enrolments e ON e.class_id = t.id JOIN students s ON s.id = e.student_id
        LEFT JOIN grades g ON g.student_id = s.id
    ), recorded AS (
        INSERT INTO disclosures (actor_user_id, actor_role, student_id, record, purpose)
        SELECT %(user)s, %(role)s, id, %(record)s, %(purpose)s FROM shown
    )
    SELECT t.id AS class_id, t.name AS class_name, shown.* FROM taught t LEFT JOIN shown ON true ORDER BY shown.id"""

READ = f"SELECT {_RECORD} FROM students s LEFT JOIN grades g ON g.student_id = s.id WHERE {_READABLE}"


@dataclass(frozen=True)
class Reader:
    """The signed-in account, as the access rules need it."""

    id: int
    username: str
    role: str
    student_id: int | None
    teacher_id: int | None


def _rule(reader: Reader, student_id: int) -> dict[str, object]:
    return {"student": student_id, "role": reader.role, "own": reader.student_id, "teacher": reader.teacher_id}


async def read_and_disclose(reader: Reader, student_id: int, record: str, purpose: str | None) -> db.Row:
    """The student's record (with grades) if READER may read it, with the disclosure recorded; else 404 — the
    same answer whether the record is missing or not the reader's."""
    row = await db.fetch_one(READ_AND_DISCLOSE, {**_rule(reader, student_id), "user": reader.id, "record": record,
                                                 "purpose": (purpose or DEFAULT_PURPOSE)[:200]})
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    return row


async def class_and_disclose(reader: Reader, class_id: int, purpose: str | None) -> tuple[str, list[db.Row]]:
    """The class's name and its students (with grades) if READER teaches it or administers; each student's
    disclosure recorded. 404 otherwise, whether the class is missing or another teacher's."""
    rows = await db.fetch(CLASS_AND_DISCLOSE, {"class": class_id, "role": reader.role, "teacher": reader.teacher_id,
                                               "user": reader.id, "record": "class_view",
                                               "purpose": (purpose or DEFAULT_PURPOSE)[:200]})
    if not rows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "class not found")
    return rows[0]["class_name"], [row for row in rows if row["id"] is not None]


async def readable(reader: Reader, student_id: int) -> db.Row:
    """The record without a disclosure, for a change (erasure, opt-out) that shows nothing; 404 as above."""
    row = await db.fetch_one(READ, _rule(reader, student_id))
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "student not found")
    return row

"""The suite's own data: students, accounts and a class it creates, uses and removes.

Everything carries the run's tag, and anything left by an interrupted run is removed at the
next start. Disclosure entries the suite causes stay: the record of disclosures is append-only
by law, and each of them says it was this verification (its purpose names the run).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import psycopg

from ..errors import ProbeError
from ..targets import Target
from .http import Api

PREFIX = "edupro-verify"
STUDENT_PREFIX = "VX-"  # student_no is 20 characters at most
_FIXTURE_STUDENTS = "student_id IN (SELECT id FROM students WHERE student_no LIKE %s)"
# The suite's own rows, by table: what remove_all deletes, and what integrity comparisons leave out (DB-04), since a
# fixture made by an earlier scenario of the same run is not a change of the deployment's data.
OWN_ROWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "students": ("student_no LIKE %s", (STUDENT_PREFIX + "%",)),
    "grades": (_FIXTURE_STUDENTS, (STUDENT_PREFIX + "%",)),
    "enrolments": (f"{_FIXTURE_STUDENTS} OR class_id IN (SELECT id FROM classes WHERE name LIKE %s)",
                   (STUDENT_PREFIX + "%", PREFIX + "%")),
    "classes": ("name LIKE %s", (PREFIX + "%",)),
    "teachers": ("name LIKE %s", (PREFIX + "%",)),
    "users": ("username LIKE %s", (PREFIX + "%",)),
}


@dataclass
class Person:
    username: str
    password: str
    role: str
    student_id: int | None = None
    token: str = ""


@dataclass
class Fixtures:
    target: Target
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    bcrypt_cost: int = 12
    _hash: tuple[str, str] | None = None
    _serial: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def canary(self, kind: str) -> str:
        return f"Canary{kind}{self.tag}"

    def _password_hash(self) -> tuple[str, str]:
        if self._hash is None:  # one hash for every fixture account: bcrypt at cost 12 is slow on purpose
            password = secrets.token_urlsafe(18)
            self._hash = (password, bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.bcrypt_cost)).decode())
        return self._hash

    def _remember(self, password: str) -> None:
        """Fixture passwords are secrets too: the report is searched for them (RPT-04)."""
        if password not in self.target.secrets.extra:
            self.target.secrets.extra.append(password)

    def remove_all(self) -> None:
        """Remove every fixture of any run (this one, and any an interrupted run left)."""
        with self.target.connect_db() as conn:
            for table in ("enrolments", "users", "grades", "students", "classes", "teachers"):
                where, params = OWN_ROWS[table]
                conn.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608 (constants above)

    def template_student(self) -> dict[str, Any]:
        with self.target.connect_db() as conn:
            row = conn.execute("""SELECT s.attributes, g.g1, g.g2, g.g3 FROM students s JOIN grades g
                                  ON g.student_id = s.id WHERE s.student_no NOT LIKE %s ORDER BY s.id LIMIT 1""",
                               (STUDENT_PREFIX + "%",)).fetchone()
        if row is None:
            raise ProbeError("the database holds no student to model fixtures on")
        return {"attributes": row[0], "grades": {"G1": row[1], "G2": row[2], "G3": row[3]}}

    def student(self, admin_token: str, api: Api, name: str, email: str, class_id: int | None = None) -> int:
        """Enrolled through the API, as an administrator would, so sensitive fields are sealed by the app."""
        template = self.template_student()
        body = {"student_no": f"{STUDENT_PREFIX}{self.tag}-{next(self._serial)}", "school": "GP", "name": name,
                "email": email, "birth_date": "2007-05-04", "synthetic": True, "class_id": class_id, **template}
        response = api.post("/api/v1/students", admin_token, json=body)
        if response.status_code != 201:
            raise ProbeError(f"creating a fixture student answered {response.status_code}: {response.text[:120]}")
        return int(response.json()["id"])

    def teacher_with_class(self) -> tuple[int, int]:
        with self.target.connect_db() as conn:
            teacher = conn.execute("INSERT INTO teachers (name) VALUES (%s) RETURNING id",
                                   (f"{PREFIX} teacher {self.tag}",)).fetchone()[0]
            school_class = conn.execute("INSERT INTO classes (name, teacher_id) VALUES (%s, %s) RETURNING id",
                                        (f"{PREFIX}-class-{self.tag}-{next(self._serial)}", teacher)).fetchone()[0]
        return int(teacher), int(school_class)

    def account(self, role: str, student_id: int | None = None, teacher_id: int | None = None,
                label: str = "") -> Person:
        password, hashed = self._password_hash()
        username = f"{PREFIX}-{self.tag}-{role}{label}-{next(self._serial)}"
        with self.target.connect_db() as conn:
            conn.execute("""INSERT INTO users (username, password_hash, role, student_id, teacher_id, active)
                            VALUES (%s, %s, %s, %s, %s, true)""", (username, hashed, role, student_id, teacher_id))
        self._remember(password)
        return Person(username, password, role, student_id)

    def stand_in(self, role: str, api: Api, admin_token: Callable[[], str]) -> Person:
        """The suite's own account of ROLE, for a target whose secrets name none (a student gets a synthetic record,
        enrolled through the API by ADMIN_TOKEN's administrator)."""
        try:
            student_id = None
            if role == "student":
                student_id = self.student(admin_token(), api, "Verification Student", f"verify-{self.tag}@example.org")
            return self.account(role, student_id=student_id, label="-qa")
        except psycopg.Error as error:
            raise ProbeError(next(iter(str(error).strip().splitlines()), "the database refused")) from None

    def accounts(self, count: int, student_ids: list[int]) -> list[Person]:
        """Many student accounts at once (the load test's users), one shared hash."""
        password, hashed = self._password_hash()
        rows = [(f"{PREFIX}-{self.tag}-load{n}", hashed, "student", student_ids[n % len(student_ids)])
                for n in range(count)]
        with self.target.connect_db() as conn, conn.cursor() as cur:
            cur.executemany("""INSERT INTO users (username, password_hash, role, student_id, active)
                               VALUES (%s, %s, %s, %s, true)""", rows)
        self._remember(password)
        return [Person(r[0], password, "student", r[3]) for r in rows]

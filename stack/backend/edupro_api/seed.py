"""Load the 395 real students and create the demo accounts (idempotent).

    python -m edupro_api.seed --csv stack/data/student-mat.csv --demo-accounts FILE

Names, e-mails and dates of birth are generated (deterministic from SEED) and marked synthetic:
the data set carries none.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import secrets
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .config import get_settings
from .db import get_engine
from .deps import get_cipher
from .models import Enrolment, Grade, Role, SchoolClass, Student, Teacher, User
from .security import hash_password

SEED = 20080101
DATA_YEAR = 2008
FIRST = ["Ana", "Beatriz", "Carla", "Diana", "Eva", "Filipa", "Ines", "Joana", "Marta", "Rita",
         "Andre", "Bruno", "Carlos", "Diogo", "Eduardo", "Fabio", "Goncalo", "Hugo", "Joao", "Tiago"]
LAST = ["Almeida", "Barbosa", "Costa", "Dias", "Esteves", "Ferreira", "Gomes", "Lopes", "Martins",
        "Nunes", "Oliveira", "Pereira", "Ribeiro", "Santos", "Teixeira", "Vieira"]
CLASSES = {"GP-Math-A": 1, "GP-Math-B": 2, "MS-Math-A": 1}  # class -> teacher number
TEACHERS = ["Teacher One (synthetic)", "Teacher Two (synthetic)"]
GRADE_COLUMNS = {"G1", "G2", "G3"}
NUMERIC = {"age", "Medu", "Fedu", "traveltime", "studytime", "failures", "famrel", "freetime",
           "goout", "Dalc", "Walc", "health", "absences"}
DEMO = [("demo.student", Role.student), ("demo.teacher", Role.teacher), ("demo.admin", Role.administrator)]
SCHOOL_ADMIN = "school.admin"


def class_of(school: str, index_in_school: int) -> str:
    if school == "MS":
        return "MS-Math-A"
    return "GP-Math-A" if index_in_school % 2 == 0 else "GP-Math-B"


def load_students(session: Session, csv_path: Path) -> int:
    if session.scalar(select(func.count()).select_from(Student)):
        return 0
    rng = random.Random(SEED)
    cipher = get_cipher()
    teachers = [Teacher(name=n) for n in TEACHERS]
    session.add_all(teachers)
    session.flush()
    classes = {name: SchoolClass(name=name, teacher_id=teachers[t - 1].id) for name, t in CLASSES.items()}
    session.add_all(classes.values())
    session.flush()
    per_school: dict[str, int] = {}
    with csv_path.open(newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle, delimiter=";"), start=1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            age = int(row["age"])
            born = date(DATA_YEAR - age, 1, 1) + timedelta(days=rng.randrange(365))
            attributes = {k: (int(v) if k in NUMERIC else v) for k, v in row.items() if k not in GRADE_COLUMNS}
            student = Student(student_no=f"S{number:04d}", school=row["school"], name=f"{first} {last}",
                              email_enc=cipher.seal(f"{first}.{last}.{number}@synthetic.edupro.invalid".lower()),
                              birth_date_enc=cipher.seal(born.isoformat()), synthetic=True, attributes=attributes)
            session.add(student)
            session.flush()
            session.add(Grade(student_id=student.id, g1=int(row["G1"]), g2=int(row["G2"]), g3=int(row["G3"])))
            index = per_school.get(row["school"], 0)
            per_school[row["school"]] = index + 1
            session.add(Enrolment(student_id=student.id, class_id=classes[class_of(row["school"], index)].id))
    session.commit()
    return number


def create_demo_accounts(session: Session, accounts_file: Path) -> None:
    if accounts_file.exists() and session.scalar(select(func.count()).select_from(User)):
        return
    first_student = session.scalar(select(func.min(Student.id)))
    first_teacher = session.scalar(select(func.min(Teacher.id)))
    rounds = get_settings().bcrypt_rounds
    accounts = []
    for username, role in DEMO:
        password = secrets.token_urlsafe(18)
        user = session.scalar(select(User).where(User.username == username)) or User(username=username)
        user.password_hash = hash_password(password, rounds)
        user.role = role
        user.student_id = first_student if role == Role.student else None
        user.teacher_id = first_teacher if role == Role.teacher else None
        user.active = True
        session.add(user)
        accounts.append({"username": username, "password": password, "role": str(role)})
    session.commit()
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(accounts_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(accounts, handle, indent=2)


def create_school_accounts(session: Session) -> int:
    """The school's own accounts: one per teacher the data set's classes have, and an administrator. Their passwords are random and kept
    nowhere: the school hands each person a password of their own (an administrator sets it), never this
    deploy."""
    if session.scalar(select(func.count()).select_from(User).where(User.username == SCHOOL_ADMIN)):
        return 0
    rounds = get_settings().bcrypt_rounds
    teachers = session.scalars(select(Teacher.id).where(Teacher.name.in_(TEACHERS)).order_by(Teacher.id)).all()
    people = [(f"teacher.{n}", Role.teacher, teacher) for n, teacher in enumerate(teachers, start=1)]
    people.append((SCHOOL_ADMIN, Role.administrator, None))
    for username, role, teacher in people:
        session.add(User(username=username, password_hash=hash_password(secrets.token_urlsafe(18), rounds), role=role,
                         teacher_id=teacher, active=True))
    session.commit()
    return len(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--demo-accounts", type=Path, help="development only: write demo credentials here")
    parser.add_argument("--school-accounts", action="store_true",
                        help="the school's own accounts (teachers, an administrator), passwords kept nowhere")
    args = parser.parse_args()
    with Session(get_engine()) as session:
        loaded = load_students(session, args.csv)
        if args.demo_accounts:
            create_demo_accounts(session, args.demo_accounts)
        if args.school_accounts:
            create_school_accounts(session)
    print(json.dumps({"students_loaded": loaded}))


if __name__ == "__main__":
    main()

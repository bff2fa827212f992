"""The education records: students, classes, teachers, enrolments, grades, users, disclosures."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON().with_variant(JSONB(), "postgresql")}


class Role(StrEnum):
    student = "student"
    teacher = "teacher"
    administrator = "administrator"


class Teacher(Base):
    __tablename__ = "teachers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class SchoolClass(Base):
    __tablename__ = "classes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)


class Student(Base):
    __tablename__ = "students"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_no: Mapped[str] = mapped_column(String(20), unique=True)
    school: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(120))
    # Fernet ciphertexts (DATA-05): never plaintext at rest.
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_date_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=True)
    attributes: Mapped[dict] = mapped_column()
    directory_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grade: Mapped["Grade"] = relationship(lazy="joined")


class Enrolment(Base):
    __tablename__ = "enrolments"
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), primary_key=True, index=True)


class Grade(Base):
    __tablename__ = "grades"
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True)
    g1: Mapped[int] = mapped_column(SmallInteger)
    g2: Mapped[int] = mapped_column(SmallInteger)
    g3: Mapped[int] = mapped_column(SmallInteger)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("teachers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class Disclosure(Base):
    """FERPA record of disclosures (34 CFR 99.32): append-only, enforced in PostgreSQL."""

    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disclosed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(20))
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    record: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(200))

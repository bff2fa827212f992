"""Education records: teachers, classes, students, enrolments, grades, users.

Revision ID: 0001_records
Revises:
"""
import os

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_records"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("teachers", "classes", "students", "enrolments", "grades", "users")


def app_role() -> str:
    return os.environ.get("EDUPRO_APP_ROLE", "edupro_app")


def upgrade() -> None:
    op.create_table("teachers", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(120), nullable=False))
    op.create_table("classes", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(60), nullable=False, unique=True),
                    sa.Column("teacher_id", sa.Integer, sa.ForeignKey("teachers.id"), nullable=False))
    op.create_table("students", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("student_no", sa.String(20), nullable=False, unique=True),
                    sa.Column("school", sa.String(4), nullable=False),
                    sa.Column("name", sa.String(120), nullable=False),
                    sa.Column("email_enc", sa.LargeBinary),
                    sa.Column("birth_date_enc", sa.LargeBinary),
                    sa.Column("synthetic", sa.Boolean, nullable=False),
                    sa.Column("attributes", JSONB, nullable=False))
    op.create_table("enrolments",
                    sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id"), primary_key=True),
                    sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), primary_key=True))
    op.create_table("grades",
                    sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id"), primary_key=True),
                    sa.Column("g1", sa.SmallInteger, nullable=False),
                    sa.Column("g2", sa.SmallInteger, nullable=False),
                    sa.Column("g3", sa.SmallInteger, nullable=False),
                    sa.CheckConstraint("g1 BETWEEN 0 AND 20 AND g2 BETWEEN 0 AND 20 AND g3 BETWEEN 0 AND 20",
                                       name="grades_in_range"))
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("username", sa.String(80), nullable=False, unique=True),
                    sa.Column("password_hash", sa.String(80), nullable=False),
                    sa.Column("role", sa.String(20), nullable=False),
                    sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id")),
                    sa.Column("teacher_id", sa.Integer, sa.ForeignKey("teachers.id")),
                    sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
                    sa.CheckConstraint("role IN ('student', 'teacher', 'administrator')", name="users_role"))
    role = app_role()
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {role}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

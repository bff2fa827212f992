"""Indexes for the access rules and the record of disclosures (DB-06).

Revision ID: 0003_indexes
Revises: 0002_privacy
"""
from alembic import op

revision = "0003_indexes"
down_revision = "0002_privacy"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_enrolments_class_id": ("enrolments", ["class_id"]),
    "ix_classes_teacher_id": ("classes", ["teacher_id"]),
    "ix_users_student_id": ("users", ["student_id"]),
    "ix_disclosures_student_id": ("disclosures", ["student_id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)

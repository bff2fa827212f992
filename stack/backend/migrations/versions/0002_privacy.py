"""Privacy: directory-information opt-out, erasure marker, append-only record of disclosures.

Revision ID: 0002_privacy
Revises: 0001_records
"""
import os

import sqlalchemy as sa
from alembic import op

revision = "0002_privacy"
down_revision = "0001_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("students", sa.Column("directory_opt_out", sa.Boolean, nullable=False, server_default="false"))
    op.add_column("students", sa.Column("erased_at", sa.DateTime(timezone=True)))
    op.create_table("disclosures", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.func.now()),
                    sa.Column("actor_user_id", sa.Integer, nullable=False),
                    sa.Column("actor_role", sa.String(20), nullable=False),
                    sa.Column("student_id", sa.Integer, nullable=False),
                    sa.Column("record", sa.String(40), nullable=False),
                    sa.Column("purpose", sa.String(200), nullable=False))
    # FERPA 99.32: the application may add to the record and read it, never rewrite it.
    op.execute("""
        CREATE FUNCTION disclosures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'disclosures is append-only'; END $$""")
    op.execute("""CREATE TRIGGER disclosures_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
                  ON disclosures FOR EACH STATEMENT EXECUTE FUNCTION disclosures_append_only()""")
    role = os.environ.get("EDUPRO_APP_ROLE", "edupro_app")
    op.execute(f"REVOKE ALL ON disclosures FROM {role}")
    op.execute(f"GRANT SELECT, INSERT ON disclosures TO {role}")
    op.execute(f"GRANT USAGE ON SEQUENCE disclosures_id_seq TO {role}")


def downgrade() -> None:
    op.drop_table("disclosures")
    op.execute("DROP FUNCTION disclosures_append_only()")
    op.drop_column("students", "erased_at")
    op.drop_column("students", "directory_opt_out")

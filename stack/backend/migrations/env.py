"""Alembic runs as the schema owner (EDUPRO_MIGRATION_URL); the app role only gets grants."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from edupro_api.models import Base

target_metadata = Base.metadata


def run() -> None:
    engine = create_engine(os.environ["EDUPRO_MIGRATION_URL"],
                           connect_args={"sslmode": os.environ.get("EDUPRO_DATABASE_SSLMODE", "prefer")})
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run()

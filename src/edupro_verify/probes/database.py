"""PostgreSQL as the suite sees it: settings, schema, integrity, backups and restores, migrations."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..errors import ProbeError
from ..targets import Target

PG_BIN = "/usr/lib/postgresql/15/bin"
SCRATCH_PREFIX = "edupro_verify_scratch_"
# pg_dump's last line in plain format: a dump without it was cut short (a full disk, a killed dump, a copy).
DUMP_COMPLETE = b"-- PostgreSQL database dump complete"
COPY_BLOCK = re.compile(rb"^COPY (\S+) \(.*\) FROM stdin;$")


def copied_rows(dump: bytes) -> dict[str, int]:
    """Rows per table in a plain dump's COPY blocks (psql loads a block cut short without a word)."""
    counts: dict[str, int] = {}
    table: str | None = None
    for line in dump.splitlines():
        if table is None:
            if found := COPY_BLOCK.match(line):
                table = found.group(1).decode()
                counts[table] = 0
        elif line == b"\\.":
            table = None
        else:
            counts[table] += 1
    return counts


def scalar(conn: psycopg.Connection, query: str | sql.Composable, *params: Any) -> Any:
    row = conn.execute(query, params or None).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def client(program: str) -> str:
    found = shutil.which(program) or (os.path.join(PG_BIN, program) if os.path.exists(os.path.join(PG_BIN, program)) else None)
    if not found:
        raise ProbeError(f"{program} (PostgreSQL client) is not installed where the suite runs")
    return found


def settings(conn: psycopg.Connection) -> dict[str, str]:
    names = ("server_version", "server_encoding", "TimeZone", "ssl", "archive_mode", "archive_timeout",
             "listen_addresses", "password_encryption")
    return {n: str(scalar(conn, "SELECT current_setting(%s)", n)) for n in names}


def database_encoding(conn: psycopg.Connection, name: str) -> str:
    return str(scalar(conn, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = %s", name))


def revision(conn: psycopg.Connection) -> str | None:
    if not scalar(conn, "SELECT to_regclass('public.alembic_version')"):
        return None
    return scalar(conn, "SELECT version_num FROM alembic_version")


def schema_snapshot(conn: psycopg.Connection) -> dict[str, Any]:
    """Tables, columns, indexes and constraints of the public schema, in a comparable form."""
    columns = conn.execute("""SELECT table_name, column_name, data_type, is_nullable
                              FROM information_schema.columns WHERE table_schema = 'public'
                              ORDER BY table_name, column_name""").fetchall()
    indexes = conn.execute("""SELECT tablename, indexname, indexdef FROM pg_indexes
                              WHERE schemaname = 'public' ORDER BY indexname""").fetchall()
    constraints = conn.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                                  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                                  ORDER BY conname""").fetchall()
    triggers = conn.execute("""SELECT tgrelid::regclass::text, tgname FROM pg_trigger
                               WHERE NOT tgisinternal ORDER BY tgname""").fetchall()
    return {"columns": [list(r) for r in columns], "indexes": [list(r) for r in indexes],
            "constraints": [list(r) for r in constraints], "triggers": [list(r) for r in triggers]}


def schema_drift(expected: dict[str, Any], live: dict[str, Any]) -> list[str]:
    drift = []
    for part in ("columns", "indexes", "constraints", "triggers"):
        want = {tuple(r) for r in expected.get(part, [])}
        have = {tuple(r) for r in live.get(part, [])}
        drift += [f"{part} missing: {' '.join(map(str, r[:2]))}" for r in sorted(want - have)]
        drift += [f"{part} unexpected: {' '.join(map(str, r[:2]))}" for r in sorted(have - want)]
    return drift


def table_fingerprint(conn: psycopg.Connection, table: str,
                      leave_out: tuple[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Row count and a checksum over every row (all columns, in a stable order), without the rows LEAVE_OUT's
    condition selects (the suite's own fixtures)."""
    where, params = leave_out or ("false", ())
    query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t "
                    "WHERE (" + where + ") IS NOT TRUE")
    count, digest = conn.execute(query.format(sql.Identifier(table)), params or None).fetchone()  # type: ignore[misc]
    return {"rows": int(count), "md5": digest}


def orphaned_foreign_keys(conn: psycopg.Connection) -> list[str]:
    found = []
    fks = conn.execute("""SELECT conrelid::regclass::text, a.attname, confrelid::regclass::text, af.attname
                          FROM pg_constraint c
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                          JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
                          WHERE c.contype = 'f' AND connamespace = 'public'::regnamespace""").fetchall()
    for child, column, parent, parent_column in fks:
        query = sql.SQL("SELECT count(*) FROM {c} x WHERE x.{col} IS NOT NULL AND NOT EXISTS "
                        "(SELECT 1 FROM {p} y WHERE y.{pcol} = x.{col})").format(
            c=sql.Identifier(child), col=sql.Identifier(column), p=sql.Identifier(parent),
            pcol=sql.Identifier(parent_column))
        orphans = scalar(conn, query.as_string(conn))
        if orphans:
            found.append(f"{child}.{column} -> {parent}: {orphans} orphaned")
    return found


def invalid_constraints(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("""SELECT conname FROM pg_constraint
                           WHERE connamespace = 'public'::regnamespace AND NOT convalidated""").fetchall()
    return [r[0] for r in rows]


def stale_statistics(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("""SELECT relname FROM pg_stat_user_tables
                           WHERE n_live_tup + n_mod_since_analyze > 0
                             AND last_analyze IS NULL AND last_autoanalyze IS NULL""").fetchall()
    return sorted(r[0] for r in rows)


def index_names(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").fetchall()}


def password_hashes(conn: psycopg.Connection, leave_out: tuple[str, tuple[str, ...]] | None = None) -> list[str]:
    """Every stored hash, but the rows LEAVE_OUT's condition names (the suite's own accounts, hashed by the suite)."""
    if leave_out is None:
        return [r[0] for r in conn.execute("SELECT password_hash FROM users").fetchall()]
    condition, values = leave_out
    query = "SELECT password_hash FROM users WHERE (" + condition + ") IS NOT TRUE"
    return [r[0] for r in conn.execute(query, values).fetchall()]  # type: ignore[arg-type]


def public_tables(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}


def database_size(conn: psycopg.Connection) -> int:
    return int(scalar(conn, "SELECT pg_database_size(current_database())"))


class Scratch:
    """A database the suite creates for a restore or a migration round trip, and always drops."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = SCRATCH_PREFIX + secrets.token_hex(4)

    def __enter__(self) -> "Scratch":
        with self.target.connect_db(dbname="postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(self.name)))
        return self

    def __exit__(self, *exc: object) -> None:
        """Drop the scratch database. A plain DROP first: PostgreSQL ends an autovacuum worker in it by itself,
        while WITH (FORCE) refuses to end one unless the role is in pg_signal_backend, which the suite's role
        need not be. FORCE only for a connection of the suite's own left behind."""
        drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self.name))
        with self.target.connect_db(dbname="postgres") as conn:
            try:
                conn.execute(drop)
            except psycopg.errors.ObjectInUse:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def env(self) -> dict[str, str]:
        db = self.target.database
        return {**os.environ, "PGHOST": str(db["host"]), "PGPORT": str(db["port"]), "PGUSER": str(db["user"]),
                "PGPASSWORD": self.target.secrets.database_password or "", "PGDATABASE": self.name,
                "PGSSLMODE": str(db.get("sslmode", "prefer")), "PGCONNECT_TIMEOUT": "5"}

    def restore(self, dump: bytes) -> float:
        """psql the plain-format dump into the scratch database, every row of it; seconds taken.

        A dump cut short is refused before it is loaded: psql would restore its first part without an error."""
        if DUMP_COMPLETE not in dump[-4096:]:
            raise AssertionError(f"the backup is incomplete ({len(dump)} bytes, without pg_dump's closing line): "
                                 "it was cut short and would restore only in part")
        with tempfile.NamedTemporaryFile(suffix=".sql") as handle:
            handle.write(dump)
            handle.flush()
            started = time.monotonic()
            result = subprocess.run([client("psql"), "--no-password", "--quiet", "-v", "ON_ERROR_STOP=1",
                                     "--single-transaction", "-f", handle.name], env=self.env(),
                                    capture_output=True, text=True)
            elapsed = time.monotonic() - started
        if result.returncode != 0:
            raise AssertionError(f"the backup does not restore: {result.stderr.strip().splitlines()[-1][:200]}")
        self._require_every_row(copied_rows(dump))
        return elapsed

    def _require_every_row(self, in_dump: dict[str, int]) -> None:
        with self.connect() as conn:
            restored = {table: scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(_qualified(table)))
                        for table in in_dump}
        short = [f"{table}: {restored[table]} of {rows}" for table, rows in in_dump.items() if restored[table] != rows]
        if short:
            raise AssertionError(f"the restore lacks rows the backup holds ({', '.join(short[:3])})")

    def connect(self) -> psycopg.Connection:
        return self.target.connect_db(dbname=self.name)

    def alembic(self, alembic_ini: Path, *args: str) -> None:
        db = self.target.database
        url = (f"postgresql+psycopg://{db['user']}:{self.target.secrets.database_password}"
               f"@{db['host']}:{db['port']}/{self.name}")
        env = {**os.environ, "EDUPRO_MIGRATION_URL": url, "EDUPRO_APP_ROLE": str(db.get("app_role", "edupro_app")),
               "PYTHONPATH": str(alembic_ini.parent)}
        result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(alembic_ini), *args], env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise AssertionError(f"alembic {' '.join(args)} failed on the copy: {last[:200]}")


def _qualified(table: str) -> sql.Composable:
    return sql.Identifier(*(part.strip('"') for part in table.split(".")))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def next_wal(name: str) -> str:
    timeline, log, seg = name[:8], int(name[8:16], 16), int(name[16:24], 16)
    position = log * 256 + seg + 1
    return f"{timeline}{position // 256:08X}{position % 256:08X}"


def archive_status(conn: psycopg.Connection) -> dict[str, Any]:
    """WAL archiving as the server reports it, and how old the oldest change not yet archived is."""
    mode = scalar(conn, "SHOW archive_mode")
    row = conn.execute("""SELECT archived_count, last_archived_wal, last_archived_time, failed_count,
                                 last_failed_time FROM pg_stat_archiver""").fetchone()
    current, offset = conn.execute(
        "SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_insert_lsn())").fetchone()
    archived, last_wal, last_time, failed, failed_time = row
    nothing_new = last_wal is not None and current == next_wal(last_wal) and offset <= 8192
    at_risk = 0.0 if nothing_new or last_time is None else (datetime.now(UTC) - last_time).total_seconds()
    return {"mode": mode, "archived": archived, "last_wal": last_wal, "last_time": last_time, "failed": failed,
            "failed_time": failed_time, "at_risk_seconds": at_risk}


def password_accepted(target: Target, user: str, password: str) -> bool:
    """Does the database let USER in with PASSWORD (an empty one: no password at all)?"""
    db = target.database
    try:
        psycopg.connect(host=db["host"], port=db["port"], dbname=db["name"], user=user, password=password,
                        sslmode=db.get("sslmode", "prefer"), connect_timeout=5).close()
        return True
    except psycopg.OperationalError as error:
        text = str(error)
        if "password authentication failed" in text or "no password supplied" in text or "password" in text.lower():
            return False
        raise ProbeError(f"database {db['host']}:{db['port']} unreachable: {text.strip().splitlines()[-1]}") from None

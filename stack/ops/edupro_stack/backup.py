"""Backups with pg_dump (DB-01, OPS-04) and restores into a database of the operator's choosing."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from .config import StackConfig
from .layout import Layout
from .processes import StackError, run
from .services import postgres

NAME_PATTERN = re.compile(r"^edupro_backup_\d{8}_\d{6}\.sql$")
BASE_BACKUPS_KEPT = 2  # and the WAL archive from the older one on: a point in time since then can be restored
START_WAL = re.compile(r"^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$", re.M)


def _client_env(cfg: StackConfig) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGPASSWORD": cfg.secrets.owner_password,
            "PGHOST": cfg.database.host, "PGPORT": str(cfg.database.port), "PGUSER": postgres.OWNER,
            "PGSSLMODE": "prefer", "PGCONNECT_TIMEOUT": "5"}


def take(cfg: StackConfig, layout: Layout, scheduled: bool = False, archive_cleanup: list[str] | None = None) -> Path:
    """A logical dump (restorable anywhere, DB-01) and a physical base backup (with the WAL archive, a point in time,
    OPS-03), taken together."""
    layout.dumps.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime('%Y%m%d_%H%M%S')
    target = layout.dumps / f"edupro_backup_{stamp}.sql"
    partial = target.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    run([os.path.join(postgres.BIN, "pg_dump"), "--format=plain", "--no-password", "--file", str(partial),
         cfg.database.name], env=_client_env(cfg), what="pg_dump")
    partial.replace(target)
    target.chmod(0o600)
    base_backup(cfg, layout, stamp, archive_cleanup)
    with postgres.connect(cfg) as conn:
        conn.execute("SELECT pg_switch_wal()")  # the dump's moment is archived too
    _record_success(layout)
    if scheduled:  # which backups the schedule made (OPS-04 asks for the schedule's, not a deploy's)
        with (layout.backups / "scheduled.log").open("a") as log:
            log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {target.name}\n")
    return target


def base_backup(cfg: StackConfig, layout: Layout, stamp: str, archive_cleanup: list[str] | None = None) -> Path:
    """pg_basebackup of the whole cluster (tar, gzip, its own WAL streamed beside it) into backups/base/base_STAMP;
    the newest BASE_BACKUPS_KEPT are kept, and the archived WAL older than the oldest of them is removed
    (pg_archivecleanup on the archive; ARCHIVE_CLEANUP: the command and archive where the database server has it,
    as in its container)."""
    folder = layout.base_backups
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    target = folder / f"base_{stamp}"
    partial = folder / f".base_{stamp}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    env = {**_client_env(cfg), "PGUSER": "postgres", "PGPASSWORD": cfg.secrets.postgres_password}
    run([os.path.join(postgres.BIN, "pg_basebackup"), "--pgdata", str(partial), "--format=tar", "--gzip",
         "--wal-method=stream", "--checkpoint=fast", "--no-password"], env=env, what="pg_basebackup")
    partial.chmod(0o700)
    for file in partial.iterdir():
        file.chmod(0o600)
    partial.replace(target)
    kept = sorted(p for p in folder.glob("base_*") if p.is_dir())
    for old in kept[:-BASE_BACKUPS_KEPT]:
        shutil.rmtree(old)
    oldest = start_wal(kept[-BASE_BACKUPS_KEPT:][0])
    if oldest:  # segments before the oldest base backup's start can serve no restore any more
        cleanup = archive_cleanup or [os.path.join(postgres.BIN, "pg_archivecleanup"), str(layout.wal_archive)]
        run([*cleanup, oldest], what="pg_archivecleanup")
    return target


def start_wal(base: Path) -> str | None:
    """The WAL segment a base backup starts from (its backup_label)."""
    with tarfile.open(base / "base.tar.gz") as tar:
        member = tar.extractfile("backup_label")
        found = START_WAL.search(member.read().decode()) if member else None
    return found.group(1) if found else None


def _record_success(layout: Layout) -> None:
    """The node exporter publishes this, so Prometheus can alert on a stale backup (MON-03)."""
    layout.textfile.mkdir(parents=True, exist_ok=True)
    prom = layout.textfile / "edupro_backup.prom"
    tmp = prom.with_suffix(".tmp")
    tmp.write_text("# HELP edupro_backup_last_success_timestamp_seconds Time of the newest good backup.\n"
                   "# TYPE edupro_backup_last_success_timestamp_seconds gauge\n"
                   f"edupro_backup_last_success_timestamp_seconds {time.time():.0f}\n")
    tmp.chmod(0o644)
    tmp.replace(prom)


def restore(cfg: StackConfig, file: Path, into: str) -> float:
    """Restore FILE into a new database INTO; returns seconds taken. Never overwrites a database."""
    if not file.is_file():
        raise StackError(f"backup file {file} does not exist")
    if into == cfg.database.name:
        raise StackError(f"refusing to restore over the live database '{into}'; restore into a new name")
    with postgres.connect(cfg) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (into,)).fetchone():
            raise StackError(f"database '{into}' already exists; choose a new name or drop it first")
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
            sql.Identifier(into), sql.Identifier(postgres.OWNER)))
    started = time.monotonic()
    try:
        run([os.path.join(postgres.BIN, "psql"), "--no-password", "--quiet", "-v", "ON_ERROR_STOP=1",
             "--single-transaction", "-f", str(file), "-d", into], env=_client_env(cfg), what="restore")
    except StackError:
        drop(cfg, into)
        raise
    return time.monotonic() - started


def drop(cfg: StackConfig, name: str) -> None:
    if name == cfg.database.name:
        raise StackError("refusing to drop the live database")
    with postgres.connect(cfg) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

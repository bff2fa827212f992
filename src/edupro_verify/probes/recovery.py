"""Point-in-time recovery as a disaster would need it (OPS-03): the newest base backup and the WAL archive,
copied off the host, replayed in a scratch cluster on the machine the suite runs on, then compared with the live
database. Nothing on the target is written; the scratch cluster is removed afterwards."""

from __future__ import annotations

import io
import os
import pwd
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ..errors import ProbeError
from ..targets import Target
from . import host as host_probe

SEGMENT = re.compile(r"^[0-9A-F]{24}$")
HISTORY = re.compile(r"^[0-9A-F]{8}\.history$")
START_WAL = re.compile(r"^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$", re.M)
REPLAY_SECONDS = 300


@dataclass
class Restored:
    """What the scratch cluster recovered, and what it took."""
    base: str
    segments: int
    fetched_bytes: int
    seconds: float
    end_lsn: int  # where the last WAL record replayed ends (bytes)
    segment_bytes: int
    newest_disclosure: int | None  # the id of the newest row of the append-only disclosures table recovered


def segment_start(name: str, segment_bytes: int) -> int:
    """The LSN (bytes) where WAL segment NAME begins: its log and segment numbers, after the timeline."""
    per_log = 0x1_0000_0000 // segment_bytes
    return (int(name[8:16], 16) * per_log + int(name[16:24], 16)) * segment_bytes


def replayed_into(end_lsn: int, segment: str, segment_bytes: int) -> bool:
    """Did a replay that ended at END_LSN apply a record of SEGMENT (or later)? A replay that stops where SEGMENT
    begins, or before, never read it: a segment ends with a switch record (the replay then ends where the next one
    begins) or with a record that continues into the next (the replay then ends inside it, after its start)."""
    return end_lsn > segment_start(segment, segment_bytes)


def archived_in_full(last_archived: str | None) -> str | None:
    """The newest segment the server says is archived whole: pg_stat_archiver names a segment, or a backup history
    file (SEGMENT.OFFSET.backup) whose segment is still being written, or a timeline history file."""
    if not last_archived or not SEGMENT.match(last_archived[:24]):
        return None
    if SEGMENT.match(last_archived):
        return last_archived
    timeline, position = last_archived[:8], int(last_archived[8:16], 16) * 256 + int(last_archived[16:24], 16) - 1
    return f"{timeline}{position // 256:08X}{position % 256:08X}" if position >= 0 else None


def _listing(target: Target, folder: str) -> list[str]:
    """The names in FOLDER on the host; none when it does not exist (a deployment that never took one)."""
    host = target.host_of("base_backups")
    if not host.file(folder).is_directory:
        return []
    return host_probe.run(host, "ls -1 %s", folder).split()


def _fetch(target: Target, path: str) -> bytes:
    file = target.host_of("base_backups").file(path)
    if not file.exists:
        raise AssertionError(f"{path} is missing on the host: the base backup is incomplete")
    return bytes(file.content)


def _runner() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: as root the scratch cluster runs as nobody."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


def _own(path: Path, runner: dict[str, Any]) -> None:
    if not runner:
        return
    for folder, dirs, files in os.walk(path):
        os.chown(folder, runner["user"], runner["group"])
        for name in dirs + files:
            os.chown(os.path.join(folder, name), runner["user"], runner["group"], follow_symlinks=False)


def restore_latest(target: Target, database: str, user: str) -> Restored:
    """Copy the newest base backup and every archived segment since its start, recover to the end of the archive
    in a scratch cluster, and read what it holds (as USER, the suite's own database role, let in by trust there)."""
    folder = str(target.path("base_backups"))
    bases = sorted(n for n in _listing(target, folder) if n.startswith("base_"))
    if not bases:
        raise AssertionError(f"there is no base backup in {folder}: without one the WAL archive cannot be replayed "
                             "(./deploy.sh backup takes one)")
    base = bases[-1]
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="edupro-verify-pitr-"))
    data, archive = scratch / "data", scratch / "archive"
    try:
        fetched = _unpack(target, f"{folder}/{base}", data)
        label = data / "backup_label"
        start = START_WAL.search(label.read_text()) if label.exists() else None
        if not start or not (data / "PG_VERSION").exists():
            raise AssertionError(f"the base backup {base} is not a PostgreSQL base backup (no backup_label or PG_VERSION)")
        archive.mkdir()
        wal_folder = str(target.path("wal_archive"))
        names = [n for n in _listing(target, wal_folder)
                 if (SEGMENT.match(n) and n[8:] >= start.group(1)[8:]) or HISTORY.match(n)]
        for name in names:
            content = _fetch(target, f"{wal_folder}/{name}")
            fetched += len(content)
            (archive / name).write_bytes(content)
        version = (data / "PG_VERSION").read_text().strip()
        restored = _replay(scratch, version, database, user)
        return Restored(base=base, segments=sum(bool(SEGMENT.match(n)) for n in names), fetched_bytes=fetched,
                        seconds=time.monotonic() - started, **restored)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unpack(target: Target, base: str, data: Path) -> int:
    fetched = 0
    data.mkdir(mode=0o700)
    for name, into in (("base.tar.gz", data), ("pg_wal.tar.gz", data / "pg_wal")):
        content = _fetch(target, f"{base}/{name}")
        fetched += len(content)
        into.mkdir(mode=0o700, exist_ok=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(content)) as tar:
                tar.extractall(into, filter="data")
        except (tarfile.TarError, EOFError, OSError) as error:
            raise AssertionError(f"the base backup's {name} does not unpack ({error})") from None
    data.chmod(0o700)
    return fetched


def _replay(scratch: Path, version: str, database: str, user: str) -> dict[str, Any]:
    binaries = Path(f"/usr/lib/postgresql/{version}/bin")
    if not (binaries / "pg_ctl").exists():
        raise ProbeError(f"the point-in-time restore needs the PostgreSQL {version} server where the suite runs "
                         f"({binaries}/pg_ctl is missing): apt-get install postgresql-{version}")
    data = scratch / "data"
    (data / "recovery.signal").touch()
    (scratch / "hba.conf").write_text("local all all trust\n")
    with (data / "postgresql.auto.conf").open("a") as conf:  # read last: these override the live cluster's own
        conf.write("\n# edupro-verify: a scratch cluster for a point-in-time restore\n"
                   "listen_addresses = ''\nport = 5432\n"
                   f"unix_socket_directories = '{scratch}'\n"
                   f"hba_file = '{scratch / 'hba.conf'}'\n"
                   "ssl = off\narchive_mode = off\nlogging_collector = off\nshared_buffers = '32MB'\n"
                   f"restore_command = 'cp {scratch / 'archive'}/%f %p'\n"
                   "recovery_target_timeline = 'latest'\nrecovery_target_action = 'promote'\n")
    runner = _runner()
    _own(scratch, runner)
    log = scratch / "postgres.log"
    ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-s"]
    try:
        started = subprocess.run([*ctl, "-w", "-t", str(REPLAY_SECONDS), "start"], capture_output=True, text=True,
                                 **runner)
        if started.returncode != 0:
            raise AssertionError(f"the scratch cluster did not start from the base backup: {_last_line(log)}")
        with psycopg.connect(host=str(scratch), dbname="postgres", user=user, autocommit=True) as conn:
            deadline = time.monotonic() + REPLAY_SECONDS
            while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                if time.monotonic() > deadline:
                    raise AssertionError(f"the WAL replay did not end within {REPLAY_SECONDS} s")
                time.sleep(0.2)
            # the end of the last record recovery applied (it stays so after the promotion)
            end_lsn, segment_bytes = conn.execute(
                "SELECT pg_last_wal_replay_lsn() - '0/0', setting::bigint FROM pg_settings "
                "WHERE name = 'wal_segment_size'").fetchone()  # type: ignore[misc]
        with psycopg.connect(host=str(scratch), dbname=database, user=user, autocommit=True) as conn:
            newest = conn.execute("SELECT max(id) FROM disclosures").fetchone()[0]  # type: ignore[index]
        return {"end_lsn": int(end_lsn), "segment_bytes": int(segment_bytes), "newest_disclosure": newest}
    except psycopg.OperationalError as error:
        raise AssertionError(f"the scratch cluster could not be read: {str(error).strip().splitlines()[-1]}") from None
    except psycopg.errors.UndefinedTable:
        raise ProbeError(f"the restored database {database} has no EduPro schema: table disclosures is missing") from None
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True, **runner)


def _last_line(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return lines[-1][:200] if lines else "no log"


def changes_not_recovered(conn: psycopg.Connection, newest_recovered: int | None) -> tuple[int, datetime | None]:
    """Rows of the append-only disclosures table the live database holds beyond the newest one recovered: how many,
    and when the oldest of them was written."""
    count, oldest = conn.execute("SELECT count(*), min(disclosed_at) FROM disclosures WHERE id > %s",
                                 (newest_recovered or 0,)).fetchone()  # type: ignore[misc]
    return int(count), oldest


def age(moment: datetime | None) -> float:
    return 0.0 if moment is None else (datetime.now(UTC) - moment).total_seconds()

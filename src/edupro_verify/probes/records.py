"""What a deployment keeps on its host: backup files and the deployment history (DB-01, DB-04, DB-07, OPS-04, OPS-06)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..targets import Target
from . import host as host_probe

BACKUP_NAME = re.compile(r"^edupro_backup_(\d{8}_\d{6})\.sql$")
DAILY = re.compile(r"^\s*(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\*\s+.*\bbackup\b", re.M)


def backups(target: Target) -> list[str]:
    """Backup file names in the backup folder, oldest first."""
    folder = str(target.path("backups"))
    names = host_probe.run(target.host_of("backups"), "ls -1 %s", folder).split()
    return sorted(n for n in names if n.startswith("edupro_backup_"))


def backup(target: Target, name: str) -> bytes:
    return bytes(target.host_of("backups").file(f"{target.path('backups')}/{name}").content)


def newest_backup(target: Target) -> tuple[str, bytes]:
    names = backups(target)
    if not names:
        raise AssertionError(f"there is no backup in {target.path('backups')}")
    return names[-1], backup(target, names[-1])


def history(target: Target) -> list[dict[str, Any]]:
    file = target.host_of("deployment_history").file(str(target.path("deployment_history")))
    if not file.exists:
        raise AssertionError(f"there is no deployment history at {file.path}")
    return [json.loads(line) for line in file.content_string.splitlines() if line.strip()]


def baseline_backup(target: Target) -> str:
    """The backup taken before the newest migration (its backup phase); after a migration that created the
    database (no backup phase: nothing existed to protect), the new database's first backup; else the newest."""
    names = [n for n in backups(target) if BACKUP_NAME.match(n)]
    migrations = [r for r in history(target) if r.get("action") == "migration" and r.get("outcome") == "succeeded"]
    if migrations:
        newest = migrations[-1]
        stamp = re.sub(r"[-:]", "", newest["started"])[:15].replace("T", "_")
        taken_first = any(p.get("phase") == "backup" for p in newest.get("phases", []))
        before = [n for n in names if BACKUP_NAME.match(n).group(1) <= stamp]  # type: ignore[union-attr]
        after = [n for n in names if BACKUP_NAME.match(n).group(1) > stamp]  # type: ignore[union-attr]
        if taken_first and before:
            return before[-1]
        if not taken_first and after:
            return after[0]
    if not names:
        raise AssertionError(f"there is no backup in {target.path('backups')}")
    return names[-1]


def backup_taken_at(name: str) -> datetime | None:
    """When a backup was taken, from its name (edupro_backup_YYYYmmdd_HHMMSS.sql), or None for another name."""
    match = BACKUP_NAME.match(name)
    return datetime.strptime(match.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=UTC) if match else None


def daily_backup_entry(schedule: str) -> str | None:
    """The crontab line that runs a backup every day at a fixed time, if there is one."""
    match = DAILY.search(schedule)
    return match.group(0).strip() if match else None


@dataclass
class ScheduledBackups:
    """What a daily schedule has made: since when it holds, when it was last due, and its newest backup."""
    installed: datetime  # the time of the schedule's file: deploy.sh rewrites it only when the schedule changes
    due: datetime | None  # the newest time the job has been due since then (a grace for the job to finish), if any
    next_due: datetime
    made: list[str]  # the backups the schedule made, oldest first (its log)

    @property
    def newest(self) -> str | None:
        return self.made[-1] if self.made else None

    @property
    def done_when_due(self) -> bool:
        taken = backup_taken_at(self.newest) if self.newest else None
        return self.due is None or (taken is not None and taken >= self.due - timedelta(minutes=1))


def scheduled_backups(target: Target, entry: str, grace_seconds: float) -> ScheduledBackups:
    """ENTRY is the schedule's daily crontab line ('M H * * * ...', the host's local time)."""
    minute, hour = (int(n) for n in entry.split()[:2])
    host = target.host_of("backup_schedule")
    installed = datetime.fromtimestamp(int(host_probe.run(host, "stat -c %%Y %s",
                                                          str(target.path("backup_schedule"))).strip()), UTC)
    offset = host_probe.run(host, "date +%z").strip()  # cron reads its table in the host's time zone
    zone = timezone(timedelta(hours=int(offset[:3]), minutes=int(offset[0] + offset[3:5])))
    now = datetime.now(zone)
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    last_due = today if today <= now else today - timedelta(days=1)
    if (now - last_due).total_seconds() < grace_seconds:  # the job may still be running: the time before counts
        last_due -= timedelta(days=1)
    log = target.host_of("backup_log").file(str(target.path("backup_log")))
    made = [line.split()[1] for line in (log.content_string.splitlines() if log.exists else []) if len(line.split()) > 1]
    due = last_due.astimezone(UTC) if last_due.astimezone(UTC) > installed else None
    return ScheduledBackups(installed, due, (today if today > now else today + timedelta(days=1)).astimezone(UTC),
                            made)


@dataclass
class Rotation:
    daily: bool
    kept: int | None  # the `rotate N` count: how many rotated files (days, when daily) are kept


def rotation(config: str) -> Rotation:
    kept = re.search(r"^\s*rotate\s+(\d+)", config, re.M)
    return Rotation(bool(re.search(r"^\s*daily\b", config, re.M)), int(kept.group(1)) if kept else None)


def release_record(target: Target) -> dict[str, Any]:
    """The newest deployment that succeeded and recorded the images it left running (up, release, rollback)."""
    for entry in reversed(history(target)):
        if entry.get("outcome") == "succeeded" and entry.get("images"):
            return entry
    raise AssertionError(f"the deployment history ({target.path('deployment_history')}) records the images of no "
                         "release: the running containers cannot be held to one")

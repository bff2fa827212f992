"""What a daily schedule has made (OPS-04), read from a host's files: the schedule's time, its log."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import testinfra

from edupro_verify.probes import records


class LocalTarget:
    def __init__(self, folder: Path) -> None:
        self.host = testinfra.get_host("local://")
        self.paths = {"backup_schedule": folder / "edupro-backup", "backup_log": folder / "scheduled.log"}

    def path(self, name: str) -> Path:
        return self.paths[name]

    def host_of(self, name: str) -> Any:
        return self.host


ENTRY = "15 2 * * * root edupro-stack backup --scheduled"


def target(tmp_path: Path, installed_days_ago: float, made: list[str]) -> Any:
    found = LocalTarget(tmp_path)
    found.paths["backup_schedule"].write_text(ENTRY + "\n")
    stamp = time.time() - installed_days_ago * 86400
    os.utime(found.paths["backup_schedule"], (stamp, stamp))
    if made:
        found.paths["backup_log"].write_text("".join(f"2026-01-01T00:00:00+00:00 {name}\n" for name in made))
    return found


def test_a_schedule_installed_a_moment_ago_is_not_due_yet(tmp_path: Path) -> None:
    found = records.scheduled_backups(target(tmp_path, 0, []), ENTRY, 3600)
    assert found.due is None and found.done_when_due and found.next_due > found.installed


def test_a_schedule_in_place_for_days_without_a_backup_has_missed_it(tmp_path: Path) -> None:
    found = records.scheduled_backups(target(tmp_path, 3, ["edupro_backup_20200101_021500.sql"]), ENTRY, 3600)
    assert found.due is not None and not found.done_when_due and found.newest == "edupro_backup_20200101_021500.sql"


def test_the_backup_of_the_last_due_time_satisfies_it(tmp_path: Path) -> None:
    due = records.scheduled_backups(target(tmp_path, 3, []), ENTRY, 3600).due
    assert due is not None
    name = f"edupro_backup_{due.strftime('%Y%m%d_%H%M%S')}.sql"
    assert records.scheduled_backups(target(tmp_path, 3, [name]), ENTRY, 3600).done_when_due

"""What cron's own log says about its jobs (OPS-04): a started job, and a job it could not start."""

from datetime import UTC, datetime
from pathlib import Path

import testinfra

from edupro_verify.probes import scheduler

STARTED = "2026-12-02T21:36:01.893491+00:00 staging-lab CRON[6113]: (root) CMD (/usr/local/bin/edupro-stack supervise)"
REFUSED = "2026-12-02T21:37:01.946799+00:00 staging-lab CRON[6331]: Cannot make/remove an entry for the specified session"
DAEMON = "2026-12-02T21:35:25.884747+00:00 staging-lab cron[5299]: (CRON) STARTUP (fork ok)"


def test_a_refusal_after_the_last_start_is_seen() -> None:
    runs = scheduler._job_runs("/var/log/syslog", [DAEMON, STARTED, REFUSED])
    assert runs.last_started == datetime(2026, 12, 2, 21, 36, 1, 893491, tzinfo=UTC)
    assert runs.last_refused is not None and runs.last_refused > runs.last_started
    assert "Cannot make/remove" in runs.last_refused_line


def test_a_cron_that_never_started_a_job_has_no_last_start() -> None:
    runs = scheduler._job_runs("/var/log/syslog", [DAEMON, REFUSED])
    assert runs.last_started is None and runs.last_refused is not None


def test_the_classic_syslog_time_is_read() -> None:
    runs = scheduler._job_runs("/var/log/cron", ["Dec  2 21:32:01 host CRON[16]: (root) CMD (date)"])
    assert runs.last_started is not None
    assert (runs.last_started.month, runs.last_started.day, runs.last_started.hour) == (12, 2, 21)


def test_only_the_named_job_s_starts_count_when_one_is_named() -> None:
    backup = "2026-12-02T21:37:01.1+00:00 staging-lab CRON[7001]: (root) CMD (/usr/local/bin/edupro-stack backup)"
    runs = scheduler._job_runs("/var/log/syslog", [STARTED, backup], "/usr/local/bin/edupro-stack supervise")
    assert runs.last_started == datetime(2026, 12, 2, 21, 36, 1, 893491, tzinfo=UTC)
    assert scheduler._job_runs("/var/log/syslog", [backup], "/usr/local/bin/edupro-stack supervise").last_started is None


def test_a_crontab_s_job_line_is_its_first_line_that_is_neither_comment_nor_variable(tmp_path: Path) -> None:
    crontab = tmp_path / "edupro-supervise"
    crontab.write_text("# supervision\nSHELL=/bin/sh\nPATH=/usr/bin\n* * * * * root /usr/local/bin/edupro-stack supervise\n")
    line = scheduler.entry(testinfra.get_host("local://"), str(crontab))
    assert line == "* * * * * root /usr/local/bin/edupro-stack supervise"
    assert scheduler.EACH_MINUTE.match(line)
    assert scheduler.entry(testinfra.get_host("local://"), str(tmp_path / "missing")) is None

"""What the host's own scheduler runs: the installed crontab entries, cron itself, logrotate's daily run (OPS-04,
OPS-05). A file nothing reads schedules nothing: a schedule counts where cron reads it and while cron runs."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CRON_FOLDERS = ("/etc/cron.d/",)
CRON_FILES = ("/etc/crontab",)
# cron (Debian) ignores /etc/cron.d files whose names hold anything but letters, digits, '_' and '-'.
CRON_D_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Installed:
    where: str  # the file
    read_by: str | None  # what reads it there, or None: nothing does
    runner_running: bool  # is the program that acts on it running (cron)


# Where cron says what it did: syslog (rsyslog on Debian), cron's own log elsewhere, or the journal.
CRON_LOGS = ("/var/log/syslog", "/var/log/cron.log", "/var/log/cron")
# cron's word for a job it started, and for one it could not start (a PAM session refused, a fork failed).
JOB_STARTED = re.compile(r"CRON\[\d+\]: \(\S+\) CMD \(")
JOB_REFUSED = re.compile(r"CRON\[\d+\]: (Cannot make/remove an entry|.*PAM|.*\(CRON\) ERROR|.*error)", re.I)


@dataclass
class JobRuns:
    """What the scheduler's own log says about the jobs it ran: the newest start, the newest refusal."""
    source: str | None  # the log read, or None: no log of cron's was found
    last_started: datetime | None
    last_started_line: str
    last_refused: datetime | None
    last_refused_line: str


EACH_MINUTE = re.compile(r"^\*\s+\*\s+\*\s+\*\s+\*\s")


def entry(host: Any, path: str) -> str | None:
    """The first job line of a crontab file (neither a comment nor a variable), if the file has one."""
    file = host.file(path)
    lines = file.content_string.splitlines() if file.exists else []
    return next((line.strip() for line in lines
                 if line.strip() and not line.lstrip().startswith("#") and not re.match(r"^\s*\w+=", line)), None)


def job_runs(host: Any, crontab: str | None = None) -> JobRuns:
    """The newest job cron started and the newest it could not, from its own log: a cron that runs but cannot
    open a job's session (pam_loginuid in a container without AUDIT_CONTROL) runs no job at all. With CRONTAB,
    only the starts of that file's job count (its command, as cron logs it).

    A server set up a moment ago has a log that names no job yet, started or refused: the log is read again
    until a minute has turned (cron's own period), so its first job can show either way. Where nothing of the
    server's is due each minute (its jobs are daily and hourly), the suite gives cron a job of its own for that
    minute (PROBE_JOB, removed after; as root, where the profile allows sudo)."""
    job = entry(host, crontab) if crontab else None
    command = job.split(None, 6)[-1][:40] if job else None  # cron logs the command after minute..weekday and user
    runs = _read_job_runs(host, command)
    if not (runs.source and runs.last_started is None and runs.last_refused is None):
        return runs
    placed = crontab is None and _place_probe(host)
    try:
        deadline = time.monotonic() + (PROBE_PATIENCE if placed else FIRST_JOB_PATIENCE)
        while runs.last_started is None and runs.last_refused is None and time.monotonic() < deadline:
            time.sleep(5)
            runs = _read_job_runs(host, command)
    finally:
        if placed:
            host.run(f"rm -f {PROBE_FILE}")
    return runs


# The suite's own job for a cron that has nothing due each minute: its start shows that cron runs jobs.
PROBE_FILE = "/etc/cron.d/edupro-verify-probe"
PROBE_JOB = ": edupro-verify cron probe, removed after the check"


def _place_probe(host: Any) -> bool:
    if host.run("grep -qs '^\\*' /etc/cron.d/* /etc/crontab").rc == 0:
        return False  # something of the server's runs each minute: its start will show
    written = host.run(f"printf '%s\\n' '# edupro-verify: a job of the suite, removed after its check' "
                       f"'* * * * * root {PROBE_JOB}' > {PROBE_FILE} && chmod 644 {PROBE_FILE}")
    return bool(written.rc == 0)


def _read_job_runs(host: Any, command: str | None) -> JobRuns:
    for path in CRON_LOGS:
        if host.file(path).exists:
            lines = host.run(f"grep -a 'CRON\\[' {path} | tail -n 400").stdout.splitlines()
            return _job_runs(path, lines, command)
    journal = host.run("journalctl -t CRON -o short-iso --no-pager -n 400 2>/dev/null")
    if journal.rc == 0 and journal.stdout.strip():
        return _job_runs("journalctl -t CRON", journal.stdout.splitlines(), command)
    return JobRuns(None, None, "", None, "")


FIRST_JOB_PATIENCE = 70  # seconds: a minute for cron to reach its next job, and the log line to be written
PROBE_PATIENCE = 130  # cron reads a new file at a minute's turn and runs its job at the next one


def _job_runs(source: str, lines: list[str], command: str | None = None) -> JobRuns:
    started = [(_stamp(line), line) for line in lines if JOB_STARTED.search(line) and (command or "") in line]
    refused = [(_stamp(line), line) for line in lines if JOB_REFUSED.search(line) and not JOB_STARTED.search(line)]
    last_started = max(started, key=lambda s: s[0] or datetime.min.replace(tzinfo=UTC), default=(None, ""))
    last_refused = max(refused, key=lambda s: s[0] or datetime.min.replace(tzinfo=UTC), default=(None, ""))
    return JobRuns(source, last_started[0], last_started[1][:200], last_refused[0], last_refused[1][:200])


def _stamp(line: str) -> datetime | None:
    """A log line's time: RFC 3339 (rsyslog on Debian 12, journalctl -o short-iso) or the classic 'Dec  2 21:32:01'."""
    first = line.split(maxsplit=1)[0] if line.strip() else ""
    try:
        when = datetime.fromisoformat(first)
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        when = datetime.strptime(f"{datetime.now(UTC).year} {' '.join(line.split()[:3])}", "%Y %b %d %H:%M:%S")
        return when.replace(tzinfo=UTC)
    except ValueError:
        return None


def cron_running(host: Any) -> bool:
    return host.run("pgrep -x cron || pgrep -x crond").rc == 0


def schedule(host: Any, path: str) -> Installed:
    """Is PATH a crontab cron reads (/etc/cron.d/NAME with a valid name, /etc/crontab), and does cron run?"""
    name = path.rsplit("/", 1)[-1]
    read = (any(path.startswith(f) and "/" not in path[len(f):] for f in CRON_FOLDERS) and bool(CRON_D_NAME.match(name))
            or path in CRON_FILES)
    exists = host.file(path).exists
    return Installed(path, "cron" if read and exists else None, cron_running(host))


def rotation(host: Any, path: str) -> Installed:
    """Is PATH read by the host's logrotate (its main configuration includes the folder PATH is in), and is
    logrotate run daily (cron.daily while cron runs)?"""
    main = host.file("/etc/logrotate.conf")
    folder = path.rsplit("/", 1)[0]
    included = main.exists and bool(re.search(rf"^\s*include\s+{re.escape(folder)}/?\s*$", main.content_string, re.M))
    daily = host.file("/etc/cron.daily/logrotate").exists
    read = included and host.file(path).exists
    return Installed(path, "logrotate (cron.daily)" if read and daily else None, cron_running(host))


def last_rotation(host: Any) -> str | None:
    """When logrotate last ran (its state file's newest entry), if it ever did."""
    state = host.file("/var/lib/logrotate/status")
    if not state.exists:
        return None
    stamps = re.findall(r'"\s+(\d{4}-\d{1,2}-\d{1,2}-\d{1,2}:\d{1,2}:\d{1,2})', state.content_string)
    return max(stamps) if stamps else None

"""What the host's own scheduler runs: the installed crontab entries, cron itself, logrotate's daily run (OPS-04,
OPS-05). A file nothing reads schedules nothing: a schedule counts where cron reads it and while cron runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
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

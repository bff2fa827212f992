"""The command line: pytest --env NAME [--phase N|N-M|N,M] and the suite's other options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..spec import SPECS

REPO = Path(__file__).resolve().parents[3]


def add(parser: pytest.Parser) -> None:
    group = parser.getgroup("edupro", "EduPro acceptance")
    group.addoption("--env", help="environment profile in specs/environments (development, staging, production)")
    group.addoption("--phase", help="phases to verify: N, N-M or N,M (1..8); default all")
    group.addoption("--load-users", type=int, help="override the profile's load-test user count")
    group.addoption("--load-seconds", type=int, help="override the profile's load-test duration")
    group.addoption("--reports-dir", default=str(REPO / "reports"), help="where run folders go (default reports/)")
    group.addoption("--release", help="release under verification (default: what deploy.sh recorded for a stack it runs "
                                       "here, else the release of the newest signed phase report of --env)")
    group.addoption("--no-gate", action="store_true",
                    help="run phase N without a verified passing report of phase N-1 (recorded in the report)")
    group.addoption("--no-pdf", action="store_true",
                    help="do not print report.pdf (headless Chromium, a few seconds a run); the rest is written as usual")
    group.addoption("--specs", default=str(SPECS), help="the specs folder, as --specs=DIR (default: the repository's specs/)")


def parse_phases(text: str | None) -> set[int]:
    if not text:
        return set(range(1, 9))
    phases: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not match:
            raise pytest.UsageError(f"--phase {text}: write N, N-M or N,M with phases 1 to 8")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if not (1 <= low <= high <= 8):
            raise pytest.UsageError(f"--phase {text}: there are eight phases, 1 to 8")
        phases.update(range(low, high + 1))
    return phases

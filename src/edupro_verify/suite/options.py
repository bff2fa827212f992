"""The command line: pytest --env NAME [--phase N|N-M|N,M] and the suite's other options."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

from ..spec import SPECS, SpecError, load_profile

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


def check_before_provisioning(argv: list[str]) -> int:
    """`deploy.sh verify` asks this before it makes or deploys anything: the environment, --phase and --specs as
    the run will take them. Prints the specs folder (the deploy tool then reads the same profiles), or one line
    saying what is wrong (exit 4, as pytest's own bad input)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", default="development")
    parser.add_argument("--phase")
    parser.add_argument("--specs", default=str(SPECS))
    known, _ = parser.parse_known_args(argv)
    try:
        parse_phases(known.phase)
        load_profile(known.env, Path(known.specs))
    except (pytest.UsageError, SpecError) as error:
        print(f"deploy.sh: {error}", file=sys.stderr)
        return 4
    print(Path(known.specs).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(check_before_provisioning(sys.argv[1:]))

"""The load test (PERF-01, PERF-02): load/run.py in a subprocess, fed with the suite's fixture accounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from .. import process
from ..errors import ProbeError
from .fixtures import Person

RUNNER = Path(__file__).resolve().parents[3] / "load" / "run.py"
# The runner waits for every user's log-in (bcrypt sets their pace, not the spawn rate); a target slower than this
# is given up on.
MIN_LOGINS_PER_SECOND = 1


@contextmanager
def runner_environment(accounts: list[Person]) -> Iterator[dict[str, str]]:
    """The environment load/run.py needs: the accounts in an owner-only file, removed afterwards."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        os.chmod(handle.name, 0o600)
        json.dump([{"username": a.username, "password": a.password, "student_id": a.student_id} for a in accounts],
                  handle)
        handle.flush()
        yield {**os.environ, "EDUPRO_LOAD_ACCOUNTS": handle.name}


def run(base_url: str, accounts: list[Person], users: int, spawn_rate: float, seconds: float,
        workers: int = 0) -> dict[str, Any]:
    """Library mode when WORKERS is 0; otherwise a Locust master with that many local workers."""
    command = [sys.executable, str(RUNNER), "--host", base_url, "--users", str(users), "--spawn-rate", str(spawn_rate),
               "--seconds", str(seconds), "--workers", str(workers)]
    limit = seconds + users / MIN_LOGINS_PER_SECOND + 120
    with runner_environment(accounts) as env:
        try:  # an interrupted run stops the runner and its workers with it
            result = process.run(command, timeout=limit, env=env)
        except subprocess.TimeoutExpired:
            raise ProbeError(f"the load run did not finish within {limit:.0f} s") from None
    if result.returncode != 0 or not result.stdout.strip():
        raise ProbeError(f"the load run failed: {(result.stderr.strip().splitlines() or ['no output'])[-1][:200]}")
    figures = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    figures["recovered_after_seconds"] = recovery(base_url)
    return figures


def recovery(base_url: str, seconds: float = 60) -> float | None:
    """After the load: how long until the target answers its health check again (None: not within SECONDS). The
    checks after this one then see the target, not the load's aftermath (a proxy that marked its upstreams down)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if requests.get(f"{base_url}/health", timeout=5, verify=False).status_code == 200:
                return round(time.monotonic() - started, 1)
        except requests.RequestException:
            pass
        time.sleep(1)
    return None

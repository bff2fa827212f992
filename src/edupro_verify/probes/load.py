"""The load test (PERF-01, PERF-02): load/run.py in a subprocess, fed with the suite's fixture accounts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

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
    with runner_environment(accounts) as env:
        # In a session of its own: a run that is interrupted stops the runner and its workers with it.
        runner = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        try:
            stdout, stderr = runner.communicate(timeout=seconds + users / MIN_LOGINS_PER_SECOND + 120)
        except subprocess.TimeoutExpired:
            stop(runner)
            raise ProbeError(f"the load run did not finish within {seconds + users / MIN_LOGINS_PER_SECOND + 120:.0f} s") from None
        except BaseException:
            stop(runner)
            raise
    if runner.returncode != 0 or not stdout.strip():
        raise ProbeError(f"the load run failed: {(stderr.strip().splitlines() or ['no output'])[-1][:200]}")
    figures = dict(json.loads(stdout.strip().splitlines()[-1]))
    figures["recovered_after_seconds"] = recovery(base_url)
    return figures


def stop(runner: subprocess.Popen[str]) -> None:
    """The runner's whole session: Locust's master and its workers (SIGTERM, then SIGKILL after 5 s)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(runner.pid, signum)
            runner.wait(timeout=5)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


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

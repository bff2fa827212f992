"""The compose stack, brought up once for tests/compose and taken down after its last test.

It publishes on 9443/9080, so a local stack on 8443/8080 may keep running; EDUPRO_DRIVER=compose makes
deploy.sh (and the suite's discovery through it) act on the containers."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

COMPOSE_ENV = {"HTTPS_PORT": "9443", "HTTP_PORT": "9080", "EDUPRO_DRIVER": "compose"}


def compose_deploy(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "deploy.sh"), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **COMPOSE_ENV})


@pytest.fixture(scope="package")
def compose_stack() -> Iterator[dict[str, Any]]:
    """The checkout's compose stack, up; taken down after the last test. A stack these tests made (its run directory
    had no stack id before them, as in CI) is theirs, a fixture: its volumes go too. An existing stack keeps its data."""
    stack_id = Path(os.environ.get("EDUPRO_RUN_DIR", REPO / "run")) / "compose" / "stack-id"
    ours = not stack_id.exists()
    result = compose_deploy("up", "--driver", "compose")
    assert result.returncode == 0, result.stderr[-1500:]
    status = compose_deploy("status", "--json")
    assert status.returncode == 0, status.stderr[-500:]
    stack = dict(json.loads(status.stdout))
    yield stack
    down = compose_deploy("down")
    assert down.returncode == 0, down.stderr[-500:]
    if ours:
        removed = subprocess.run(["docker", "volume", "rm", *stack["volumes"].values()], capture_output=True,
                                 text=True, check=False)
        assert removed.returncode == 0, removed.stderr[-500:]
        stack_id.unlink()  # the stack is gone: the next run makes its own again

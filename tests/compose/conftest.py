"""The compose stack, brought up once for tests/compose and taken down after its last test.

It publishes on 9443/9080, so a local stack on 8443/8080 may keep running; EDUPRO_DRIVER=compose makes
deploy.sh (and the suite's discovery through it) act on the containers."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import REPO

COMPOSE_ENV = {"HTTPS_PORT": "9443", "HTTP_PORT": "9080", "EDUPRO_DRIVER": "compose"}


def compose_deploy(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "deploy.sh"), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **COMPOSE_ENV})


@pytest.fixture(scope="package")
def compose_stack() -> Iterator[dict[str, Any]]:
    result = compose_deploy("up", "--driver", "compose")
    assert result.returncode == 0, result.stderr[-1500:]
    status = compose_deploy("status", "--json")
    assert status.returncode == 0, status.stderr[-500:]
    yield dict(json.loads(status.stdout))
    down = compose_deploy("down")
    assert down.returncode == 0, down.stderr[-500:]

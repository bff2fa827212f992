"""Runs last: `down` stops everything and leaves nothing listening."""

import subprocess
from typing import Any

from tests.helpers import deploy


def test_down_leaves_nothing_listening(stack: dict[str, Any]) -> None:
    result = deploy("down")
    assert result.returncode == 0, result.stderr
    ports = {8080, 8443, 5432, 6379, 9090, 9100, 8001, 8002, 8003, 8004}
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    still = [p for p in ports if f":{p} " in listening]
    assert not still, f"still listening after down: {still}"

"""Runs last: `down` stops everything and leaves nothing listening."""

import subprocess
import time
from typing import Any

from tests.helpers import deploy


def test_down_leaves_nothing_listening(stack: dict[str, Any]) -> None:
    result = deploy("down")
    assert result.returncode == 0, result.stderr
    ports = {8080, 8443, 5432, 6379, 9090, 9100, 8001, 8002, 8003, 8004}
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    still = [p for p in ports if f":{p} " in listening]
    assert not still, f"still listening after down: {still}"


def test_a_failed_up_leaves_nothing_half_running() -> None:
    holders = [subprocess.Popen(["python3", "-c", f"import socket,time; s=socket.create_server(('127.0.0.1',{p})); time.sleep(120)"])
               for p in (8001, 8002)]
    try:
        time.sleep(0.5)
        result = deploy("up")
    finally:
        for holder in holders:
            holder.kill()
    assert result.returncode == 1
    assert "already in use" in result.stderr and "Traceback" not in result.stderr
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    assert not [p for p in (5432, 6379, 8443, 9090) if f":{p} " in listening], "a failed up left services running"

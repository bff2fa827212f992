"""Runs last: `down` stops everything and leaves nothing listening."""

import os
import subprocess
import time
from typing import Any

from tests.helpers import deploy

OFFSET = int(os.environ.get("EDUPRO_PORT_OFFSET", "0") or 0)  # the tests' own stack runs beside the developer's


def stack_ports(stack: dict[str, Any]) -> set[int]:
    return {int(address.rsplit(":", 1)[1]) for service in stack["services"].values()
            for address in [*service["address"].split(","), service.get("http", "")] if ":" in address}


def test_down_leaves_nothing_listening(stack: dict[str, Any]) -> None:
    result = deploy("down")
    assert result.returncode == 0, result.stderr
    ports = stack_ports(stack)
    assert {8443 + OFFSET, 5432 + OFFSET, 8001 + OFFSET} <= ports, ports
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    still = [p for p in ports if f":{p} " in listening]
    assert not still, f"still listening after down: {still}"


def test_a_failed_up_leaves_nothing_half_running() -> None:
    holders = [subprocess.Popen(["python3", "-c", f"import socket,time; s=socket.create_server(('127.0.0.1',{p})); time.sleep(120)"])
               for p in (8001 + OFFSET, 8002 + OFFSET)]
    try:
        time.sleep(0.5)
        result = deploy("up")
    finally:
        for holder in holders:
            holder.kill()
    assert result.returncode == 1
    assert "already in use" in result.stderr and "Traceback" not in result.stderr
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    left = [p + OFFSET for p in (5432, 6379, 8443, 9090) if f":{p + OFFSET} " in listening]
    assert not left, f"a failed up left services running: {left}"

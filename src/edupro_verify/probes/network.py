"""Reachability measured by connect attempts, from outside the host and between tiers (PLAN-02, APP-04)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from ..errors import ProbeError

NAMESPACE = "edupro-probe"
HOST_SIDE, OUTSIDE = "10.250.0.1", "10.250.0.2"
_CONNECT = """
import json, socket, sys
host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
out = {}
for port in ports:
    try:
        socket.create_connection((host, port), timeout=1).close(); out[port] = True
    except OSError:
        out[port] = False
print(json.dumps(out))
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ProbeError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")
    return result


def from_outside(ports: list[int]) -> dict[int, bool]:
    """Connect to this host's ports from a network namespace: a machine on the LAN, as it would see them."""
    if os.geteuid() != 0:
        raise ProbeError("measuring reachability from outside needs root (to create a network namespace)")
    _ip("netns", "del", NAMESPACE, check=False)
    _ip("link", "del", "edupro-veth0", check=False)
    try:
        _ip("netns", "add", NAMESPACE)
        _ip("link", "add", "edupro-veth0", "type", "veth", "peer", "name", "edupro-veth1")
        _ip("link", "set", "edupro-veth1", "netns", NAMESPACE)
        _ip("addr", "add", f"{HOST_SIDE}/30", "dev", "edupro-veth0")
        _ip("link", "set", "edupro-veth0", "up")
        _ip("-n", NAMESPACE, "addr", "add", f"{OUTSIDE}/30", "dev", "edupro-veth1")
        _ip("-n", NAMESPACE, "link", "set", "edupro-veth1", "up")
        _ip("-n", NAMESPACE, "link", "set", "lo", "up")
        result = subprocess.run(["ip", "netns", "exec", NAMESPACE, sys.executable, "-c", _CONNECT, HOST_SIDE,
                                 *map(str, ports)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise ProbeError(f"connect attempts from the namespace failed: {result.stderr.strip()[:200]}")
        return {int(k): v for k, v in json.loads(result.stdout).items()}
    finally:
        _ip("link", "del", "edupro-veth0", check=False)
        _ip("netns", "del", NAMESPACE, check=False)


def direct(address: str, ports: list[int]) -> dict[int, bool]:
    out = {}
    for port in ports:
        try:
            socket.create_connection((address, port), timeout=1).close()
            out[port] = True
        except OSError:
            out[port] = False
    return out


def from_host(host: Any, address: str, port: int) -> bool:
    """A connect attempt made on the target host itself (where the web and app tiers run)."""
    return host.run(f"timeout 2 bash -c '</dev/tcp/{address}/{port}'").rc == 0


def loopback_throughput_mbps(megabytes: int = 64) -> float:
    """TCP throughput through the host's own network stack, for tiers that share a host."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = 0

    def sink() -> None:
        nonlocal received
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(1 << 20):
                received += len(chunk)

    thread = threading.Thread(target=sink)
    thread.start()
    block = b"\0" * (1 << 20)
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as client:
        for _ in range(megabytes):
            client.sendall(block)
    thread.join()
    elapsed = time.perf_counter() - started
    server.close()
    return received * 8 / elapsed / 1e6

"""SSH tunnels: how the suite reaches what listens only on a server's loopback (its database, cache, Prometheus).

A profile says `through: ssh` for such a service; the suite then forwards a port of this machine's loopback to
the service's address as the server sees it, with the OpenSSH client and the profile's ssh_config (the same
pinned host key and key the operator uses). The service stays unreachable from outside, as PLAN-02 requires.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from .errors import TargetError

OPEN: list[subprocess.Popen[bytes]] = []
SOCKET_FOLDERS: list[str] = []  # the forwarded sockets' private folders, removed at exit


@dataclass(frozen=True)
class Tunnel:
    local_port: int
    remote: str  # host:port as the server sees it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def ssh_base(host_url: str, ssh_config: str | None) -> list[str]:
    parsed = urlparse(host_url)
    command = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
    if ssh_config:
        command += ["-F", ssh_config]
    if parsed.port:
        command += ["-p", str(parsed.port)]
    return [*command, f"{parsed.username}@{parsed.hostname}" if parsed.username else str(parsed.hostname)]


def open_tunnel(host_url: str, ssh_config: str | None, what: str, host: str, port: int,
                local_port: int | None = None, key: str = "") -> Tunnel:
    """Forward 127.0.0.1:LOCAL to HOST:PORT on the server; one line naming the profile key when it cannot."""
    if local_port is not None and _taken(local_port):
        raise TargetError(f"{key}.local_port: port {local_port} is taken on this machine; choose another or leave "
                          "it out (a free one is chosen)")
    local = local_port or free_port()

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", local), timeout=0.3):
                return True
        except OSError:
            return False
    _forward(host_url, ssh_config, ["-L", f"127.0.0.1:{local}:{host}:{port}"], listening,
             f"{key}: the SSH tunnel to the {what}", f"{host}:{port} on {host_url}")
    return Tunnel(local, f"{host}:{port}")


def open_socket(host_url: str, ssh_config: str | None, what: str, remote_socket: str, key: str = "") -> str:
    """Forward a Unix socket of this machine (private to this user) to REMOTE_SOCKET on the server, as the SSH user
    reaches it; returns the local socket's path."""
    folder = tempfile.mkdtemp(prefix="edupro-socket-")
    SOCKET_FOLDERS.append(folder)
    local = os.path.join(folder, "forwarded.sock")
    _forward(host_url, ssh_config, ["-o", "StreamLocalBindUnlink=yes", "-L", f"{local}:{remote_socket}"],
             lambda: os.path.exists(local), f"{key}: the SSH forward to the {what}", f"{remote_socket} on {host_url}")
    return local


def _forward(host_url: str, ssh_config: str | None, forwarding: list[str], ready: Callable[[], bool],
             said: str, where: str) -> None:
    """`ssh -N` with FORWARDING, kept open until exit once READY; one line naming what failed when it cannot."""
    base = ssh_base(host_url, ssh_config)
    command = [*base[:-1], "-N", "-o", "ExitOnForwardFailure=yes", "-o", "ControlPath=none", *forwarding, base[-1]]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = (process.stderr.read().decode(errors="replace").strip().splitlines() if process.stderr else [])
            raise TargetError(f"{said} ({where}) failed: {detail[-1] if detail else 'ssh exited'}; check "
                              "target.host and target.ssh_config")
        if ready():
            OPEN.append(process)
            return
        time.sleep(0.1)
    process.kill()
    raise TargetError(f"{said} on {where.rsplit(' on ', 1)[-1]} did not open in 15 s")


@atexit.register
def close_all() -> None:
    while OPEN:
        process = OPEN.pop()
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
    while SOCKET_FOLDERS:
        shutil.rmtree(SOCKET_FOLDERS.pop(), ignore_errors=True)

"""Reachability measured by connect attempts, from outside the host and between tiers (PLAN-02, APP-04)."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import nmap

from ..errors import ProbeError

if TYPE_CHECKING:
    from ..targets import Target

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


def open_ports(address: str) -> dict[int, str]:
    """Every TCP port of ADDRESS that accepts a connection from this machine: nmap's scan of 1-65535
    (port -> the service nmap names). A port a firewall drops or refuses is not open."""
    if address in LOOPBACK:
        raise ProbeError(f"the target's address {address} is this machine's loopback: a scan from outside needs "
                         "the address other machines reach it at (target.base_url)")
    try:
        scanner = nmap.PortScanner()
        # A SYN scan as root (27 s for 65,535 ports a firewall drops, measured on the lab server), else a connect
        # scan (about 70 s, and most of a core).
        kind = "-sS" if os.geteuid() == 0 else "-sT"
        scanner.scan(address, "1-65535", arguments=f"{kind} -Pn -T4 --max-retries 1 --min-rate 5000")
    except nmap.PortScannerError as error:
        reason = one_line(str(error)) or "is nmap installed? (apt-get install nmap)"
        raise ProbeError(f"nmap could not scan {address}: {reason}") from None
    if address not in scanner.all_hosts():
        return {}
    found = scanner[address].get("tcp", {})
    return {int(port): str(info.get("name") or "?") for port, info in found.items() if info.get("state") == "open"}


def one_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


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


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def tiers(target: Target) -> dict[str, list[tuple[str, int]]]:
    """The addresses of each tier: the web tier from the profile's URLs, the application tier from the target's
    inventory (running backend colours), the data tier from the profile's database and cache."""
    web = [int(urlparse(target.base_url).port or 443)]
    if target.http_url:
        web.append(int(urlparse(target.http_url).port or 80))
    app = [a for name, svc in target.inventory.services.items() if name.startswith("backend_") and svc.running
           for a in svc.addresses]
    missing = [what for what, found in (("cache", target.cache), ("database", target.database)) if "host" not in found]
    if missing:
        raise ProbeError(f"the profile names no {' and no '.join(missing)} (target.database, target.cache: host, "
                         "port): the data tier's addresses are unknown")
    data = [target.on_host(target.database), target.on_host(target.cache)]
    return {"web": [("0.0.0.0", p) for p in web], "app": app, "data": data, "published": published_beyond_proxy(target)}


def published_beyond_proxy(target: Target) -> list[tuple[str, int]]:
    """Host ports that containers other than the proxy publish (Docker's own account): each one opens an inner
    tier to whoever reaches the host, whatever port Docker chose."""
    if not target.containers:
        return []
    from . import containers  # Docker only for a stack that runs in containers
    found = containers.of_target(target)
    return [("0.0.0.0", port) for service, container in found.items() if service != "proxy"
            for port in containers.published_host_ports(container)]


def reachability(target: Target) -> dict[str, Any]:
    """Connect attempts to every tier: from outside the host (a network namespace, or directly to a remote
    address), from where the web tier runs to the application tier, from the application tier to the data."""
    t = tiers(target)
    ports = [p for tier in t.values() for _, p in tier]
    hostname = urlparse(target.base_url).hostname or ""
    outside = from_outside(ports) if hostname in LOOPBACK else direct(hostname, ports)
    web = target.service_host("proxy")
    app = target.service_host(target.inventory.live_backend)
    return {"tiers": t, "outside": outside,
            "web_to_app": {f"{a}:{p}": from_host(web, a, p) for a, p in t["app"]},
            "app_to_data": {f"{a}:{p}": from_host(app, a, p) for a, p in t["data"]}}


def in_subnet(address: str | None, subnet: str) -> bool:
    return bool(address) and ipaddress.ip_address(address) in ipaddress.ip_network(subnet)

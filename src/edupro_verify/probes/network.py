"""Reachability measured by connect attempts, from outside the host and between tiers (PLAN-02, APP-04)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
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


def http_throughput_mbps(host: Any, address: str, port: int, transfers: int = 20) -> float:
    """TCP throughput from HOST to ADDRESS measured by downloads over a port the firewall admits between them: the
    first script the frontend's page names (its bundle), fetched TRANSFERS times (bytes over the time curl took)."""
    page = host.run(f"curl -s --max-time 5 http://{address}:{port}/")
    scripts = re.findall(r'src="(/[^"]+\.js)"', page.stdout)
    if page.rc != 0 or not scripts:
        raise ProbeError(f"no page with a script at http://{address}:{port}/ from {host.backend.hostname}: nothing "
                         "to measure the network between the tiers with")
    url = f"http://{address}:{port}{scripts[0]}"
    result = host.run(f"for i in $(seq {transfers}); do curl -s --max-time 10 -o /dev/null "
                      f"-w '%{{size_download}} %{{time_total}}\\n' {url}; done")
    sizes = [tuple(map(float, line.split())) for line in result.stdout.split("\n") if len(line.split()) == 2]
    total_bytes, total_time = sum(s for s, _ in sizes), sum(t for _, t in sizes)
    if not sizes or total_time <= 0 or total_bytes <= 0:
        raise ProbeError(f"the downloads of {url} from {host.backend.hostname} transferred nothing")
    return total_bytes * 8 / total_time / 1e6


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


def on_their_own_hosts(target: Target) -> bool:
    """Do the tiers run on servers of their own (the profile's target.hosts lists web, app and data)?"""
    return all(target.tier_addresses(t) for t in ("web", "app", "data"))


def _tier_ports(target: Target, tier: str) -> list[int]:
    """The ports of the services the profile places on a tier (target.where), as their hosts listen."""
    ports = [p for name, svc in target.inventory.known().items() if target.where.get(name) == tier
             and (tier != "app" or name == "frontend" or svc.live) for _, p in svc.addresses]
    return sorted(set(ports))


def tier_reachability(target: Target) -> dict[str, Any]:
    """The reachability matrix between servers: from outside (this machine) to every tier's servers; from the
    web server to each application server; from each application server to the data server; and from the web
    server to the data server, which must refuse it (only the application tier is in front of the data)."""
    web_ports = [p for _, p in tiers(target)["web"]]
    app_ports, data_ports = _tier_ports(target, "app"), _tier_ports(target, "data")
    if not app_ports or not data_ports:
        raise ProbeError("the profile places no live service on the application or data tier (target.where: the "
                         "backends and frontend on app, the database and cache on data)")
    web_hosts, app_hosts, data_hosts = (target.tier(t) for t in ("web", "app", "data"))
    address = dict(zip(target.hosts, [a for t in target.tier_hosts for a in target.tier_addresses(t)], strict=True))

    def attempts(sources: dict[str, Any], destinations: dict[str, Any], ports: list[int]) -> dict[str, bool]:
        return {f"{src.split(' ', 1)[0]} {address[src]} -> {address[dst]}:{port}": from_host(host, address[dst], port)
                for src, host in sources.items() for dst in destinations for port in ports}

    ports_of = {"web": web_ports, "app": app_ports, "data": data_ports}
    by_tier = {"web": web_hosts, "app": app_hosts, "data": data_hosts}
    outside = {}
    for tier, labels in by_tier.items():
        for label in labels:
            outside.update({f"outside -> {address[label]}:{p}": ok
                            for p, ok in direct(address[label], ports_of[tier]).items()})
    return {"separate_hosts": True, "outside": outside,
            "tiers": {tier: [(address[label], p) for label in labels for p in ports_of[tier]]
                      for tier, labels in by_tier.items()},
            "web_to_app": attempts(web_hosts, app_hosts, app_ports),
            "app_to_data": attempts(app_hosts, data_hosts, data_ports),
            "web_to_data": attempts(web_hosts, data_hosts, data_ports)}


def reachability(target: Target) -> dict[str, Any]:
    """Connect attempts to every tier: from outside the host (a network namespace, or directly to a remote
    address), from where the web tier runs to the application tier, from the application tier to the data.
    Tiers on servers of their own are measured between those servers (tier_reachability)."""
    if on_their_own_hosts(target):
        return tier_reachability(target)
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

"""The services as they run: present and answering, when each started, each one's health check (ARCH-01..03)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..targets import Target
from . import containers as container_probe
from . import network
from .http import Api


def architecture(specs: Path) -> dict[str, Any]:
    """The services the architecture specification declares (specs/architecture.yaml)."""
    return dict(yaml.safe_load((specs / "architecture.yaml").read_text())["services"])


def presence(target: Target, declared: dict[str, Any]) -> dict[str, Any]:
    """For each declared service: which of its entries run, and whether each of their addresses answers."""
    states = target.inventory.known()
    found: dict[str, Any] = {}
    for name, spec in declared.items():
        running = [s for s in spec["status"] if s in states and states[s].running]
        answering = [network.from_host(target.host_at(host) or target.service_host(entry),
                                       "127.0.0.1" if host == "0.0.0.0" else host, port)
                     for entry in running for host, port in states[entry].addresses]
        found[name] = {"running": running, "answers": bool(answering) and all(answering)}
    return found


def idle_colour_room(target: Target) -> dict[str, str]:
    """Each address of the colours that are not live, as the target host sees it: 'free' (nothing listens: a
    release can start the colour there), 'serving' (a backend answers /health there: the colour runs idle), or
    'held by another program' (a release could not start there). Seen from the target's host, where the proxy runs
    (on servers of their own, the web tier: the one the application servers' firewalls admit)."""
    found: dict[str, str] = {}
    for name, service in target.inventory.backends.items():
        if service.live:
            continue
        for host, port in service.addresses:
            address = "127.0.0.1" if host == "0.0.0.0" else host
            if not network.from_host(target.host, address, port):
                found[f"{name} {host}:{port}"] = "free"
                continue
            health = target.host.run(f"curl -s --max-time 3 http://{address}:{port}/health")
            serving = health.rc == 0 and '"status"' in health.stdout
            found[f"{name} {host}:{port}"] = "serving" if serving else "held by another program"
    return found


def start_ticks(target: Target, service: str, port: int) -> int | None:
    """When the process listening on PORT of the service's host started (clock ticks since boot); None when nothing
    listens. By port, not by name: a host may run several PostgreSQL or Redis servers (two stacks side by side)."""
    host = target.service_host(service)
    listing = host.run(f"ss -Hltnp 'sport = :{port}'")
    pids = sorted({int(p) for p in re.findall(r"pid=(\d+)", listing.stdout)}) if listing.rc == 0 else []
    ticks = []
    for pid in pids:
        stat = host.run(f"cat /proc/{pid}/stat")
        if stat.rc == 0:
            ticks.append(int(stat.stdout.rsplit(")", 1)[1].split()[19]))
    return min(ticks) if ticks else None


def start_times(target: Target) -> dict[str, Any]:
    """When the database, the cache and the live backend started: Docker's clock for containers, clock ticks since
    boot for processes (None: not running)."""
    inventory = target.inventory
    if target.containers:
        found = container_probe.of_target(target)
        return {name: container_probe.started_at(found[service]).isoformat()
                for name, service in (("database", "database"), ("cache", "cache"), ("backend", inventory.live_backend))}
    live = inventory.live_instances()
    return {"database": start_ticks(target, "database", target.on_host(target.database)[1]),
            "cache": start_ticks(target, "cache", target.on_host(target.cache)[1]),
            "backend": start_ticks(target, inventory.live_backend, live[0][1]) if live else None}


def _ping(target: Target) -> bool:
    try:
        return bool(target.redis().ping())
    except Exception:  # any failure to answer PING is a failed health check
        return False


def health_checks(target: Target, api: Api) -> dict[str, Any]:
    """Each service's own health check, and the backend's declared one (`declared`)."""
    if target.containers:
        return _container_health_checks(target, api)
    db_host, db_port = target.on_host(target.database)
    conf = target.inventory.proxy_config()
    backend = target.inventory.services.get("backend_blue")
    return {
        "backend": api.get("/health").status_code == 200,
        "database": target.host_of("database").run(f"pg_isready -q -h {db_host} -p {db_port}").rc == 0
        or target.host_of("database").run(f"/usr/lib/postgresql/15/bin/pg_isready -q -h {db_host} -p {db_port}").rc == 0,
        "cache": _ping(target),
        "proxy": target.service_host("proxy").run(f"nginx -t -q -c {conf}" if conf else "nginx -t -q").rc == 0,
        "frontend": api.get("/").status_code == 200,
        "declared": backend.healthcheck.model_dump(exclude={"path"}) if backend and backend.healthcheck else {},
    }


def _container_health_checks(target: Target, api: Api) -> dict[str, Any]:
    """Docker's verdict of each container's own health check (all but the idle backend colour, which may be
    stopped between releases), the API's beside it, and the backend's declared check as Docker holds it."""
    live_name = target.inventory.live_backend
    found = {name: c for name, c in container_probe.of_target(target).items()
             if not name.startswith("backend_") or name == live_name}
    checks: dict[str, Any] = {name: container_probe.health(c) for name, c in found.items()}  # Docker's word
    checks["backend through the proxy"] = api.get("/health").status_code == 200
    live = found.get(live_name)
    checks["declared"] = container_probe.declared_healthcheck(live) if live else {}
    return checks

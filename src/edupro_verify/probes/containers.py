"""A stack's containers as the Docker daemon reports them (APP-01, APP-06, APP-08, ARCH-02, ARCH-03, DKR-01)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import docker
import docker.errors

from ..errors import ProbeError
from ..targets import Target, docker_client

NANOSECONDS = 1_000_000_000
DAEMON_FILE = "/etc/docker/daemon.json"  # where dockerd reads its settings at start (Docker's default)


@dataclass
class DaemonFile:
    text: str  # "" when absent
    settings: dict[str, Any]
    problem: str  # "" when read; else what is wrong with it ("is absent", "is not valid JSON")


def daemon_file(host: Any) -> DaemonFile:
    """The Docker daemon's configuration file on the host that runs it."""
    file = host.file(DAEMON_FILE)
    if not file.exists:
        return DaemonFile("", {}, "is absent")
    text = file.content_string
    try:
        settings = json.loads(text)
    except ValueError:
        return DaemonFile(text, {}, "is not valid JSON")
    return DaemonFile(text, settings if isinstance(settings, dict) else {}, "")


def client(target: Target) -> Any:
    """The Docker API of the daemon that runs the target's containers (on its server, over SSH; or this machine's)."""
    if not target.docker_socket and target.host_spec.startswith("ssh://"):
        raise ProbeError("the profile names no containers on the server (target.runs: containers and "
                         "target.containers), so there is no Docker API of the server to read")
    try:
        found = docker_client(target.docker_socket)
        found.ping()
        return found
    except docker.errors.DockerException as error:
        raise ProbeError(f"the Docker daemon is unreachable: {str(error)[:120]}") from None


def of_target(target: Target) -> dict[str, Any]:
    """The target's containers by service name; every one the target declares must exist."""
    if not target.containers:
        raise ProbeError("the target runs no containers (deploy.sh reports none)")
    daemon = client(target)
    found = {}
    for service, name in target.containers.items():
        try:
            found[service] = daemon.containers.get(name)
        except docker.errors.NotFound:
            raise ProbeError(f"container {name} of service {service} does not exist") from None
    return found


def started_at(container: Any) -> datetime:
    return datetime.fromisoformat(container.attrs["State"]["StartedAt"][:26].rstrip("Z") + "+00:00")


def health(container: Any) -> str:
    """"healthy" only for a running container whose health check passes (a stopped one keeps a stale verdict)."""
    state = container.attrs["State"]
    if state["Status"] != "running":
        return str(state["Status"])
    return str((state.get("Health") or {}).get("Status") or "running (no health check)")


def declared_healthcheck(container: Any) -> dict[str, Any]:
    check = container.attrs["Config"].get("Healthcheck") or {}
    return {"interval_seconds": check.get("Interval", 0) / NANOSECONDS,
            "timeout_seconds": check.get("Timeout", 0) / NANOSECONDS, "retries": check.get("Retries", 0),
            "test": " ".join(check.get("Test", [])[1:])}


def published_ports(container: Any) -> list[str]:
    bindings = container.attrs["HostConfig"].get("PortBindings") or {}
    return [f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{port}" for port, found in bindings.items()
            for b in found or []]


def published_host_ports(container: Any) -> list[int]:
    """The host ports a running container is published on (as Docker reports them, chosen or assigned)."""
    found = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    return sorted({int(b["HostPort"]) for bindings in found.values() for b in bindings or [] if b.get("HostPort")})


def log_config(container: Any) -> dict[str, Any]:
    config = container.attrs["HostConfig"].get("LogConfig") or {}
    return {"driver": config.get("Type"), **(config.get("Config") or {})}


def logs(container: Any) -> str:
    return bytes(container.logs(stdout=True, stderr=True)).decode(errors="replace")

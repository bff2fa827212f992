"""The container fault catalogue: each names what it breaks, how to apply and undo it through Docker (or the host's
Docker set-up), and the requirements whose scenarios must turn red."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import REPO

from .conftest import COMPOSE_ENV


def docker(*args: str) -> None:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr.strip()[-300:]}"


def recreate(stack: dict[str, Any], service: str, edit: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Recreate one service from docker-compose.test.yml, or from a copy of it changed by EDIT, and wait until
    Docker reports it healthy (or running, when the change removes its health check)."""
    compose_file = REPO / "docker-compose.test.yml"
    edited = REPO / ".fault-compose.yml"  # beside the original, so its relative paths mean the same
    definition = yaml.safe_load(compose_file.read_text())
    if edit:
        edit(definition["services"][service])
        edited.write_text(yaml.safe_dump(definition, sort_keys=False))
    healthchecked = "healthcheck" in definition["services"][service]
    env = {**os.environ, **COMPOSE_ENV, "VERSION": stack["version"], "STACK_ID": stack["stack_id"],
           "COMPOSE_RUN": str(Path(os.environ.get("EDUPRO_RUN_DIR", REPO / "run")).resolve() / "compose")}
    try:
        result = subprocess.run(["docker-compose", "-f", str(edited if edit else compose_file), "-p", "edupro", "up",
                                 "-d", "--no-deps", service], cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=300)
    finally:
        edited.unlink(missing_ok=True)
    assert result.returncode == 0, result.stderr[-500:]
    deadline = time.monotonic() + 120
    state: list[str] = []
    while time.monotonic() < deadline:
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}"
                                "{{.State.Health.Status}}{{end}}", f"edupro_{service}"],
                               capture_output=True, text=True).stdout.split()
        if state[-1:] == ["healthy"] or (not healthchecked and state == ["running"]):
            return
        time.sleep(1)
    raise AssertionError(f"edupro_{service} is not healthy again after 120 s: {state}")


def publish_database_port(service: dict[str, Any]) -> None:
    """5432 on every address, at a host port Docker chooses: a fixed 5432 would collide with a local PostgreSQL on
    a machine in use (the developer's own stack); the suite must see the opening wherever it is."""
    service["ports"] = ["0.0.0.0::5432"]


def without_healthcheck(service: dict[str, Any]) -> None:
    del service["healthcheck"]


def redis_password(stack: dict[str, Any]) -> str:
    return str(json.loads(Path(stack["paths"]["secrets"]).read_text())["redis_password"])


def redis_cli(*args: str) -> None:
    docker("exec", "edupro_cache", "redis-cli", "--no-auth-warning", *args)


def set_live_restore(enabled: bool) -> None:
    """Edit the daemon's live-restore in /etc/docker/daemon.json and reload dockerd (SIGHUP reloads it)."""
    path = Path("/etc/docker/daemon.json")
    settings = json.loads(path.read_text())
    settings["live-restore"] = enabled
    path.write_text(json.dumps(settings, indent=1))
    subprocess.run(["pkill", "-HUP", "-x", "dockerd"], check=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = subprocess.run(["docker", "info", "-f", "{{.LiveRestoreEnabled}}"], capture_output=True, text=True)
        if info.stdout.strip() == str(enabled).lower():
            return
        time.sleep(0.5)
    raise AssertionError(f"dockerd did not reload live-restore={enabled}")


def move_node_exporter(off: bool) -> None:
    """Take the node exporter off the dedicated network onto Docker's default bridge, or put it back."""
    if off:
        docker("network", "connect", "bridge", "edupro_node_exporter")
        docker("network", "disconnect", "edupro_edupro_network", "edupro_node_exporter")
    else:
        docker("network", "connect", "--ip", "172.20.0.51", "edupro_edupro_network", "edupro_node_exporter")
        docker("network", "disconnect", "bridge", "edupro_node_exporter")


@dataclass
class ContainerFault:
    name: str
    breaks: str
    requirements: tuple[str, ...]
    apply: Callable[[dict[str, Any]], None] = lambda stack: None
    undo: Callable[[dict[str, Any]], None] = lambda stack: None
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)


FAULTS = [
    ContainerFault("database-port-published",
                   "the database container publishes 5432 on every address (the host port chosen by Docker)",
                   ("APP-04", "PLAN-02"),
                   lambda s: recreate(s, "database", publish_database_port), lambda s: recreate(s, "database")),
    ContainerFault("image-tagged-latest", "the cache's image is also tagged latest", ("APP-06",),
                   lambda s: docker("tag", f"edupro/cache:{s['version']}", "edupro/cache:latest"),
                   lambda s: docker("rmi", "edupro/cache:latest")),
    ContainerFault("frontend-without-healthcheck", "the frontend container runs without a health check",
                   ("ARCH-03",),
                   lambda s: recreate(s, "frontend", without_healthcheck), lambda s: recreate(s, "frontend")),
    ContainerFault("cache-without-password", "the cache container answers without a password", ("APP-05",),
                   lambda s: redis_cli("-a", redis_password(s), "CONFIG", "SET", "requirepass", ""),
                   lambda s: redis_cli("CONFIG", "SET", "requirepass", redis_password(s))),
    ContainerFault("frontend-restart-no", "the frontend container is no longer restarted", ("APP-01",),
                   lambda s: docker("update", "--restart=no", "edupro_frontend"),
                   lambda s: docker("update", "--restart=unless-stopped", "edupro_frontend")),
    ContainerFault("node-exporter-off-network", "the node exporter container is moved to Docker's default bridge",
                   ("APP-08",), lambda s: move_node_exporter(True), lambda s: move_node_exporter(False)),
    ContainerFault("daemon-without-live-restore", "dockerd reloaded with live-restore off", ("DKR-01",),
                   lambda s: set_live_restore(False), lambda s: set_live_restore(True)),
    ContainerFault("no-docker-group", "the docker group is renamed away", ("DKR-02",),
                   lambda s: subprocess.run(["groupmod", "-n", "docker-fault", "docker"], check=True),
                   lambda s: subprocess.run(["groupmod", "-n", "docker", "docker-fault"], check=True)),
    ContainerFault("docker-too-old", "the profile asks Docker Engine and Compose 99", ("SW-02", "SW-03"),
                   thresholds={"SW-02": {"min_version": ">= 99.0.0"}, "SW-03": {"min_version": ">= 99.0.0"}}),
]

"""Containers on a server, as the paper deploys EduPro: a profile with an ssh:// host that names each service's
container (`target.containers: {proxy: edupro_proxy, ...}`; nothing is discovered).

The server's Docker API is reached through SSH: its socket (/var/run/docker.sock) forwarded to this machine with
the OpenSSH client and the profile's ssh_config (the pinned host key, the operator's key), docker-py speaking to
the forwarded end; the SSH user must be allowed to use Docker there (the docker group, DKR-02). A command inside a
container runs as a testinfra host whose backend is `docker exec` in the server's own SSH session. The inventory
is what Docker reports: each named container's state, and the live colour the proxy's loaded upstream names.
"""

from __future__ import annotations

import re
from typing import Any

import docker
import docker.errors
import testinfra.host
from testinfra.backend import base

from .. import tunnels
from ..errors import TargetError
from ..inventory import HealthCheck, Inventory, Service

SOCKET = "/var/run/docker.sock"


def forward(host_url: str, ssh_config: str | None) -> str:
    """The server's Docker socket forwarded over SSH, checked to answer; its local path. One line naming what to
    fix when it cannot."""
    local = tunnels.open_socket(host_url, ssh_config, "Docker API", SOCKET, key="target.containers")
    try:
        docker.DockerClient(base_url=f"unix://{local}", timeout=20).ping()
    except docker.errors.DockerException as error:
        text = str(error)
        denied = "permission denied" in text.lower() or "Connection aborted" in text
        reason = "the SSH user may not use Docker there: add it to the docker group" if denied else text[:120]
        raise TargetError(f"target.containers: the Docker API on {host_url} does not answer ({reason})") from None
    return local


class ContainerBackend(base.BaseBackend):
    """testinfra's backend for a container of a server: each command through the server's host (`docker exec`)."""

    NAME = "docker-on-host"

    def __init__(self, container: str, on: Any, *args: Any, **kwargs: Any) -> None:
        self.container, self.on = container, on
        super().__init__(container, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        out = self.on.run("docker exec %s /bin/sh -c %s", self.container, cmd)
        out.command = self.encode(cmd)
        return out  # type: ignore[no-any-return]


def container_host(on: Any, container: str) -> Any:
    """A testinfra host for CONTAINER on the server host ON."""
    backend = ContainerBackend(container, on)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host


def inventory(docker_client: Any, containers: dict[str, str], declared: dict[str, dict[str, Any]],
              on: Any) -> Inventory:
    """The profile's services as Docker reports their containers: running when the container runs; the live
    colour the one whose addresses the proxy's loaded configuration sends requests to."""
    upstream = _upstream(on, containers.get("proxy"), (declared.get("proxy") or {}).get("config"))
    services: dict[str, Service] = {}
    live_colour = None
    for name, entry in declared.items():
        state = "stopped"
        if name in containers:
            try:
                found = docker_client.containers.get(containers[name])
                state = "running" if found.status == "running" else "stopped"
            except docker.errors.NotFound:
                state = "absent"
            except docker.errors.DockerException as error:
                raise TargetError(f"target.containers: the Docker API of the server failed on {containers[name]}: "
                                  f"{str(error)[:120]}") from None
        addresses = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in entry.get("listen", [])]
        live = name.startswith("backend_") and bool(addresses) and set(addresses) <= upstream and state == "running"
        if live:
            live_colour = name.removeprefix("backend_")
        services[name] = Service(name=name, state=state, addresses=addresses, live=live, config=entry.get("config"),
                                 healthcheck=HealthCheck(**entry["healthcheck"]) if entry.get("healthcheck") else None)
    return Inventory(provider="docker", driver="remote", live_colour=live_colour, services=services,
                     containers=containers)


def _upstream(on: Any, proxy: str | None, config: str | None) -> set[tuple[str, int]]:
    if not proxy:
        return set()
    loaded = container_host(on, proxy).run("nginx -T -q -c %s", config) if config else \
        container_host(on, proxy).run("nginx -T -q")
    return {(m.group(1), int(m.group(2))) for m in re.finditer(r"^\s*server\s+([\w.\-]+):(\d+)[^;]*;", loaded.stdout,
                                                                re.M)}

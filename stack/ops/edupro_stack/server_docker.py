"""Docker on a server, as the paper sets it up (seed §2.3.1), and the stack's images shipped there.

deploy.sh over SSH, for a profile whose servers run the stack in containers (`target.runs: containers`):
- writes /etc/docker/daemon.json (the paper's: json-file logs of 10 MB, three files, overlay2, live restore) before
  Docker Engine and Compose are installed from Debian (docker.io, docker-compose), so the daemon starts with it;
- lets the deploy user use Docker (the docker group), as the paper's `usermod -aG docker`;
- builds the images here, from this checkout (offline, as the compose driver builds them), and brings each image
  the server does not have with that identity: through the profile's private registry (pushed here, pulled there),
  or without one over SSH (`docker save | ssh … docker load`).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from typing import TYPE_CHECKING

from . import registry
from .layout import Layout
from .processes import StackError

if TYPE_CHECKING:
    from .remote import Server

PACKAGES = ("docker.io", "docker-compose")
# The paper's daemon.json; default-cgroupns-mode private as on a host with cgroup v2 (its default there), which a
# host still on cgroup v1 needs for a container's own control groups.
DAEMON = {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}, "storage-driver": "overlay2",
          "live-restore": True, "default-cgroupns-mode": "private"}
DAEMON_FILE = "/etc/docker/daemon.json"
SERVICES = ("database", "cache", "backend", "frontend", "proxy", "monitoring")


def daemon_settings() -> str:
    return json.dumps(DAEMON, indent=2) + "\n"


def configure_daemon(server: Server) -> bool:
    """daemon.json with the paper's settings (any others the server's owner set are kept); True when it changed on
    a server whose Docker is already installed."""
    from .remote import sudo

    found = sudo(server, f"cat {DAEMON_FILE} 2>/dev/null || true").stdout.decode()
    try:
        existing = json.loads(found) if found.strip() else {}
    except ValueError:
        raise StackError(f"{server.label}: {DAEMON_FILE} is not valid JSON; fix or remove it, then deploy "
                         "again") from None
    if not isinstance(existing, dict):
        raise StackError(f"{server.label}: {DAEMON_FILE} is not a JSON object; fix or remove it")
    if {**existing, **DAEMON} == existing:
        return False
    wanted = json.dumps({**existing, **DAEMON}, indent=2) + "\n"
    sudo(server, f"mkdir -p /etc/docker && cat > {DAEMON_FILE}.new && mv {DAEMON_FILE}.new {DAEMON_FILE}",
         stdin=wanted.encode(), what=f"the write of {DAEMON_FILE}")
    return sudo(server, "command -v dockerd", check=False).returncode == 0


def start(server: Server, restart: bool = False, seconds: float = 60) -> None:
    """Docker running, by the server's init system (systemd enables and starts docker.service; the lab servers'
    init starts dockerd once it is installed); RESTART after daemon.json changed (live restore keeps the containers
    running meanwhile)."""
    from .remote import say, sudo

    if restart:
        say(f"{server.label}: {DAEMON_FILE} changed: restarting Docker (live restore keeps the containers running)")
        sudo(server, "if [ -d /run/systemd/system ]; then systemctl restart docker; else pkill -x dockerd; "
                     "for i in $(seq 50); do pgrep -x dockerd >/dev/null || break; sleep 0.2; done; fi",
             what="the restart of Docker")
    sudo(server, "if [ -d /run/systemd/system ]; then systemctl enable --now containerd docker; fi", check=False)
    deadline = time.monotonic() + seconds
    while sudo(server, "docker info >/dev/null 2>&1", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise StackError(f"{server.label}: Docker did not start in {seconds:.0f} s after its install; start it "
                             "there (systemctl start docker) and deploy again")
        time.sleep(1)


def allow_deploy_user(server: Server) -> None:
    from .remote import sudo

    sudo(server, f"getent group docker >/dev/null && usermod -aG docker {shlex.quote(server.user)}",
         what=f"adding {server.user} to the docker group")


def images(version: str) -> list[str]:
    return [f"edupro/{service}:{version}" for service in SERVICES]


def build(layout: Layout, version: str) -> list[str]:
    """The stack's images of VERSION, built here from this checkout (the compose driver's build, cached)."""
    from . import compose
    from .stack import ensure_frontend

    ensure_frontend(compose.compose_layout(layout))
    compose.build(compose.compose_layout(layout), version)
    return images(version)


def ship(layout: Layout, server: Server, version: str) -> list[str]:
    """Every image of VERSION the server lacks (by its identity, not its tag) brought there: pushed to the profile's
    registry and pulled by the server (only the layers each side lacks travel), or without a registry sent over SSH
    whole (`docker save | docker load`). Returns those brought."""
    from .remote import say, sudo

    wanted = build(layout, version)
    here = _ids(subprocess.run(["sh", "-c", _inspect(wanted)], capture_output=True, text=True).stdout, wanted)
    there = _ids(sudo(server, _inspect(wanted)).stdout.decode(), wanted)
    missing = [image for image in wanted if here[image] != there[image]]
    if not missing:
        return []
    if server.registry:
        say(f"{server.label}: pushing {len(missing)} image(s) to {server.registry.address}, pulled by the server")
        registry.push(layout, server.registry, missing)
        _pull(server, server.registry, missing)
    else:
        say(f"{server.label}: shipping {len(missing)} image(s) over SSH ({', '.join(missing)})")
        _load(server, missing)
    return missing


def _load(server: Server, images: list[str]) -> None:
    from .remote import ssh_command

    save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
    load = subprocess.run(ssh_command(server, "sudo -n docker load -q"), stdin=save.stdout, capture_output=True)
    assert save.stdout is not None
    save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        last = (load.stderr.decode(errors="replace").strip().splitlines() or [f"exit {load.returncode}"])[-1]
        raise StackError(f"{server.label}: shipping the images failed: {last}; nothing was started with them")


def _pull(server: Server, source: registry.Registry, images: list[str]) -> None:
    """The server trusts the registry's certificate, logs in (the password on stdin, kept in root's Docker
    configuration there, as `docker login` keeps it) and pulls each image, tagged as the compose file names it."""
    from .remote import sudo

    certs = shlex.quote(f"/etc/docker/certs.d/{source.address}")
    sudo(server, f"mkdir -p {certs} && cat > {certs}/ca.crt", stdin=source.ca.read_bytes(),
         what="the registry's certificate")
    user, password = source.login()
    sudo(server, f"docker login {shlex.quote(source.address)} -u {shlex.quote(user)} --password-stdin >/dev/null",
         stdin=password.encode(), what=f"docker login to {source.address}")
    for image in images:
        sudo(server, f"docker pull -q {shlex.quote(source.name(image))} >/dev/null && "
                     f"docker tag {shlex.quote(source.name(image))} {shlex.quote(image)}",
             what=f"docker pull of {source.name(image)}")


def _inspect(wanted: list[str]) -> str:
    """A shell command printing each image's identity on a line of its own ("none" for an image not there)."""
    return "; ".join(f"docker image inspect -f '{{{{.Id}}}}' {shlex.quote(image)} 2>/dev/null || echo none"
                     for image in wanted)


def _ids(output: str, wanted: list[str]) -> dict[str, str]:
    lines = output.split()
    if len(lines) != len(wanted):
        raise StackError(f"docker image inspect answered {len(lines)} lines for {len(wanted)} images")
    return dict(zip(wanted, lines, strict=True))

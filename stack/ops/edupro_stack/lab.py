"""Lab servers: stand-ins on this machine for the VMs a hosting provider hands over (`./deploy.sh lab`).

A lab server is a container built offline FROM the project's debootstrapped base (stack/lab/Dockerfile.server)
with its own filesystem, process table and address on a dedicated network, running only sshd, cron, logrotate,
rsyslog, ufw and fail2ban. Nothing of EduPro is on it until `./deploy.sh up --env staging` puts it there.

The operator's side of it lives in the run directory (run/lab/): the SSH key pair the `deploy` user accepts, the
server's host key as the provider reports it (read out of band, never trusted on first use) and an ssh_config
that pins both, which deploy.sh and the suite's staging profile use.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compose import BASE_IMAGE, ensure_base_image, ensure_docker
from .layout import Layout
from .processes import StackError, run

IMAGE_NAME = "edupro/lab-server"
NETWORK = "edupro_lab"
SUBNET = "172.31.240.0/24"
# Each environment's server has a fixed address (README); EDUPRO_LAB_ADDRESS moves it (the project's tests use
# their own server beside the developer's).
ADDRESSES = {"staging": "172.31.240.10"}
ADDRESS_VARIABLE = "EDUPRO_LAB_ADDRESS"
USER = "deploy"


@dataclass(frozen=True)
class LabServer:
    env: str
    address: str
    folder: Path  # the operator's files for this server

    @classmethod
    def of(cls, layout: Layout, env: str) -> "LabServer":
        if env not in ADDRESSES:
            raise StackError(f"there is no lab server for '{env}'; lab servers: {', '.join(ADDRESSES)}")
        address = os.environ.get(ADDRESS_VARIABLE) or ADDRESSES[env]
        if not address.startswith("172.31.240.") or address.endswith((".0", ".1", ".255")):
            raise StackError(f"{ADDRESS_VARIABLE}={address}: give a host address in {SUBNET} (2 to 254)")
        return cls(env, address, layout.run / "lab")

    @property
    def name(self) -> str:
        return f"edupro-lab-{self.env}-{self.address.rsplit('.', 1)[1]}"

    @property
    def identity_file(self) -> Path:
        return self.folder / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.folder / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.folder / "ssh_config"

    @property
    def ssh_url(self) -> str:
        return f"ssh://{USER}@{self.address}"


# What a VM's root has and a container's lacks: NET_ADMIN and NET_RAW for ufw and fail2ban; SYS_PTRACE so that
# root sees every process's binary and sockets; AUDIT_CONTROL so that cron's PAM session (pam_loginuid) opens:
# without it cron logs "Cannot make/remove an entry for the specified session" and runs no job at all.
CAPABILITIES = ("NET_ADMIN", "NET_RAW", "SYS_PTRACE", "AUDIT_CONTROL")


def _docker(*args: str, what: str = "") -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], what=what or f"docker {args[0]}")


def _container(server: LabServer) -> dict[str, Any] | None:
    found = subprocess.run(["docker", "inspect", server.name], capture_output=True, text=True)
    return json.loads(found.stdout)[0] if found.returncode == 0 else None


def image(layout: Layout) -> str:
    """The lab server image, tagged by the content of stack/lab (a changed server is a new image)."""
    digest = hashlib.sha256()
    for file in sorted((layout.repo / "stack" / "lab").iterdir()):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return f"{IMAGE_NAME}:{digest.hexdigest()[:12]}"


def _build_image(layout: Layout) -> str:
    tag = image(layout)
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return tag
    ensure_base_image()
    _docker("build", "-q", "-t", tag, "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-f",
            str(layout.repo / "stack" / "lab" / "Dockerfile.server"), str(layout.repo / "stack" / "lab"),
            what="docker build of the lab server image")
    return tag


def _ensure_network() -> None:
    if subprocess.run(["docker", "network", "inspect", NETWORK], capture_output=True).returncode != 0:
        _docker("network", "create", "--subnet", SUBNET, NETWORK, what="docker network create of the lab network")


def _operator_key(server: LabServer) -> None:
    server.folder.mkdir(parents=True, exist_ok=True)
    server.folder.chmod(0o700)
    if not server.identity_file.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"operator@{server.env}-lab",
             "-f", str(server.identity_file)], what="ssh-keygen of the operator's key")


def _wait_ready(server: LabServer, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logs = subprocess.run(["docker", "logs", server.name], capture_output=True, text=True)
        if "lab server ready" in logs.stdout:
            return
        time.sleep(0.5)
    raise StackError(f"lab server {server.name} did not start in {seconds:.0f} s; see docker logs {server.name}")


def _authorise(server: LabServer) -> None:
    """The provider's console: the operator's public key into deploy's authorized_keys, the host key out."""
    key = server.identity_file.with_suffix(".pub").read_text()
    subprocess.run(["docker", "exec", "-i", server.name, "sh", "-c",
                    f"umask 077 && cat > /home/{USER}/.ssh/authorized_keys && chown {USER}: /home/{USER}/.ssh/authorized_keys"],
                   input=key, text=True, check=True, capture_output=True)
    host_key = _docker("exec", server.name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()
    _write_private(server.known_hosts, f"{server.address} {host_key[0]} {host_key[1]}\n")
    _write_private(server.ssh_config, ssh_config_text(server))


def ssh_config_text(server: LabServer) -> str:
    return (f"# The {server.env} lab server ({server.name}), written by ./deploy.sh lab up\n"
            f"Host {server.address}\n"
            f"    User {USER}\n"
            f"    IdentityFile {server.identity_file}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {server.known_hosts}\n"
            f"    StrictHostKeyChecking yes\n"
            f"    BatchMode yes\n"
            f"    ConnectTimeout 5\n"
            f"    ControlMaster auto\n"
            f"    ControlPath /tmp/edupro-ssh-%C\n"
            f"    ControlPersist 60s\n")


def _write_private(path: Path, text: str) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)


def _wait_for_ssh(server: LabServer, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        probe = subprocess.run(["ssh", "-F", str(server.ssh_config), server.address, "true"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise StackError(f"lab server {server.address} does not accept the operator's key over SSH: "
                             f"{probe.stderr.strip()[-160:]}")
        time.sleep(0.5)


def names_lab_server(layout: Layout, env: str, address: str) -> bool:
    """Does the environment's profile point at this machine's lab server for it?"""
    return env in ADDRESSES and LabServer.of(layout, env).address == address


def up(layout: Layout, env: str) -> LabServer:
    server = LabServer.of(layout, env)
    ensure_docker()
    tag = _build_image(layout)
    _ensure_network()
    _operator_key(server)
    found = _container(server)
    definition = f"{tag} caps={','.join(CAPABILITIES)}"
    if found and found["Config"]["Labels"].get("org.edupro.lab.definition") != definition:
        print(f"note: lab server {server.name} was made by an older deploy.sh (another image or capabilities); "
              f"it is kept as it is: ./deploy.sh lab down --env {env} && ./deploy.sh lab up --env {env} makes it "
              "anew (deleting everything on it)", file=sys.stderr)
    if found and not found["State"]["Running"]:
        _docker("start", server.name)
    elif not found:
        caps = [arg for cap in CAPABILITIES for arg in ("--cap-add", cap)]
        _docker("run", "-d", "--name", server.name, "--hostname", f"{env}-lab", "--network", NETWORK,
                "--ip", server.address, *caps, "--restart", "unless-stopped", "--label", "org.edupro.lab=1",
                "--label", f"org.edupro.lab.definition={definition}", tag, what=f"docker run of lab server {server.name}")
    _wait_ready(server)
    _authorise(server)
    _wait_for_ssh(server)
    return server


def down(layout: Layout, env: str) -> LabServer:
    """The server is deleted with everything on it, as a VM is; the operator's key is kept."""
    server = LabServer.of(layout, env)
    subprocess.run(["ssh", "-F", str(server.ssh_config), "-O", "exit", server.address], capture_output=True)
    if _container(server):
        _docker("rm", "-f", server.name)
    server.known_hosts.unlink(missing_ok=True)
    return server


def status(layout: Layout, env: str) -> dict[str, Any]:
    server = LabServer.of(layout, env)
    found = _container(server) if subprocess.run(["docker", "info"], capture_output=True).returncode == 0 else None
    state = "absent" if not found else ("running" if found["State"]["Running"] else "stopped")
    return {"env": env, "name": server.name, "state": state, "address": server.address, "ssh": server.ssh_url,
            "user": USER, "ssh_key": str(server.identity_file), "known_hosts": str(server.known_hosts),
            "ssh_config": str(server.ssh_config), "network": NETWORK, "subnet": SUBNET}

"""Lab servers: stand-ins on this machine for the VMs a hosting provider hands over (`./deploy.sh lab`).

A lab server is a container built offline FROM the project's debootstrapped base (stack/lab/Dockerfile.server)
with its own filesystem, process table and address on a dedicated network, running only sshd, cron, logrotate,
rsyslog, ufw and fail2ban. Nothing of EduPro is on it until `./deploy.sh up --env ENV` puts it there.

Staging gets one server. Production gets the paper's three-tier network (seed §2.1.2): a web server, two
application servers and a data server, each with the provider's security group as its host firewall (ufw rules
by source address): the web tier takes 80/443 from anywhere, the application tier the backend's and the
frontend's ports from the web server only, the data tier 5432/6379 from the application servers only; SSH (22)
for the operator everywhere.

The operator's side of it lives in the run directory (run/lab/): the SSH key pair the `deploy` user accepts, the
servers' host keys as the provider reports them (read out of band, never trusted on first use) and an ssh_config
that pins both, which deploy.sh and the suite's profile use.
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

from . import registry
from .compose import BASE_IMAGE, ensure_base_image, ensure_docker
from .config import merge, read_yaml
from .layout import Layout
from .processes import StackError, run

IMAGE_NAME = "edupro/lab-server"
NETWORK = "edupro_lab"
SUBNET = "172.31.240.0/24"
# Each environment's servers, by tier, in the order of their fixed addresses (README): staging's one server at .10,
# production's web, two application and data servers at .20-.23. EDUPRO_LAB_ADDRESS moves the first; the others
# follow it (the project's tests use their own servers beside the developer's).
TIERS = {"staging": ("all",), "production": ("web", "app", "app", "data")}
FIRST = {"staging": 10, "production": 20}
ADDRESS_VARIABLE = "EDUPRO_LAB_ADDRESS"
USER = "deploy"


@dataclass(frozen=True)
class LabServer:
    env: str
    address: str
    folder: Path  # the operator's files for the environment's servers
    tier: str = "all"

    @property
    def name(self) -> str:
        return f"edupro-lab-{self.env}-{self.address.rsplit('.', 1)[1]}"

    @property
    def hostname(self) -> str:
        return f"{self.env}-lab" if self.tier == "all" else f"{self.env}-{self.tier}-{self.address.rsplit('.', 1)[1]}"

    @property
    def docker_volume(self) -> str:
        """Where the Docker Engine on the server keeps its images and containers (deleted with the server)."""
        return f"{self.name}-docker"

    @property
    def identity_file(self) -> Path:
        return self.folder / "id_ed25519"

    @property
    def known_hosts(self) -> Path:  # staging's keep the names they had when it was the only lab
        return self.folder / ("known_hosts" if self.env == "staging" else f"{self.env}.known_hosts")

    @property
    def ssh_config(self) -> Path:
        return self.folder / ("ssh_config" if self.env == "staging" else f"{self.env}.ssh_config")

    @property
    def ssh_url(self) -> str:
        return f"ssh://{USER}@{self.address}"


def servers(layout: Layout, env: str) -> list[LabServer]:
    """The environment's lab servers, in tier order (web, app, app, data for production)."""
    if env not in TIERS:
        raise StackError(f"there is no lab for '{env}'; labs: {', '.join(TIERS)}")
    given = os.environ.get(ADDRESS_VARIABLE)
    prefix = SUBNET.rsplit(".", 1)[0] + "."
    first = given.removeprefix(prefix) if given else str(FIRST[env])
    count = len(TIERS[env])
    if given and (not given.startswith(prefix) or not first.isdigit() or not 2 <= int(first) <= 254 - count):
        raise StackError(f"{ADDRESS_VARIABLE}={given}: give a host address in {SUBNET} (2 to {254 - count})")
    return [LabServer(env, f"{prefix}{int(first) + i}", layout.run / "lab", tier)
            for i, tier in enumerate(TIERS[env])]


def firewall_rules(layout: Layout, server: LabServer, others: list[LabServer]) -> list[str]:
    """The provider's security group of the server's tier, as ufw rules (seed §2.1.2)."""
    if server.tier in ("all", "web"):
        return ["allow 22/tcp", "allow 80/tcp", "allow 443/tcp"]
    stack = merge(read_yaml(layout.repo / "stack" / "config" / "base.yaml"),
                  read_yaml(layout.repo / "stack" / "config" / f"{server.env}.yaml"))
    if server.tier == "app":
        ports = sorted(p for colour in stack["api"]["ports"].values() for p in colour)
        ports.append(int(stack.get("tiers", {}).get("frontend_port", 3000)))
        front = [o.address for o in others if o.tier == "web"]
    else:
        ports = [int(stack["database"]["port"]), int(stack["cache"]["port"])]
        front = [o.address for o in others if o.tier == "app"]
    web = [o.address for o in others if o.tier == "web"]  # the web server's Prometheus scrapes every node exporter
    exporter = int(stack["monitoring"]["node_exporter_port"])
    return ["allow 22/tcp", *(f"allow proto tcp from {address} to any port {port}" for address in front
                              for port in ports),
            *(f"allow proto tcp from {address} to any port {exporter}" for address in web)]


# What a VM's root has and a container's lacks: NET_ADMIN and NET_RAW for ufw and fail2ban; SYS_PTRACE so that
# root sees every process's binary and sockets; AUDIT_CONTROL so that cron's PAM session (pam_loginuid) opens:
# without it cron logs "Cannot make/remove an entry for the specified session" and runs no job at all.
# SYS_ADMIN, with seccomp and AppArmor unconfined, for the Docker Engine deploy.sh installs there (it mounts control
# groups and overlay file systems); `--privileged` is refused on this machine. Docker's own data is on a volume of
# the server's (overlay2 does not stack on the container's own overlay).
CAPABILITIES = ("NET_ADMIN", "NET_RAW", "SYS_PTRACE", "AUDIT_CONTROL", "SYS_ADMIN")
SECURITY = ("seccomp=unconfined", "apparmor=unconfined")


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


def _apply_firewall(server: LabServer, rules: list[str]) -> None:
    """At the server's first provisioning only: afterwards its firewall is the operator's (and the suite's faults')."""
    script = ("test -e /var/lib/lab-firewall-set && exit 0; ufw --force reset >/dev/null && ufw default deny incoming "
              ">/dev/null && ufw default allow outgoing >/dev/null && "
              + " && ".join(f"ufw {rule} >/dev/null" for rule in rules)
              + " && ufw --force enable >/dev/null && touch /var/lib/lab-firewall-set")
    _docker("exec", server.name, "sh", "-c", script, what=f"the firewall of lab server {server.name}")


def _wait_ready(server: LabServer, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logs = subprocess.run(["docker", "logs", server.name], capture_output=True, text=True)
        if "lab server ready" in logs.stdout:
            return
        time.sleep(0.5)
    raise StackError(f"lab server {server.name} did not start in {seconds:.0f} s; see docker logs {server.name}")


def _authorise(server: LabServer) -> str:
    """The provider's console: the operator's public key into deploy's authorized_keys; the host key out (a line
    of known_hosts)."""
    key = server.identity_file.with_suffix(".pub").read_text()
    subprocess.run(["docker", "exec", "-i", server.name, "sh", "-c",
                    f"umask 077 && cat > /home/{USER}/.ssh/authorized_keys && chown {USER}: /home/{USER}/.ssh/authorized_keys"],
                   input=key, text=True, check=True, capture_output=True)
    host_key = _docker("exec", server.name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()
    return f"{server.address} {host_key[0]} {host_key[1]}\n"


def ssh_config_text(server: LabServer) -> str:
    return (f"# The {server.env} lab's {'' if server.tier == 'all' else server.tier + ' '}server ({server.name}), "
            "written by ./deploy.sh lab up\n"
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
    """Does the environment's profile point at this machine's lab servers for it?"""
    return env in TIERS and servers(layout, env)[0].address == address


def _start(layout: Layout, server: LabServer, tag: str) -> None:
    found = _container(server)
    definition = f"{tag} caps={','.join(CAPABILITIES)} docker-volume"
    if found and found["Config"]["Labels"].get("org.edupro.lab.definition") != definition:
        print(f"note: lab server {server.name} was made by an older deploy.sh (another image or capabilities); "
              f"it is kept as it is: ./deploy.sh lab down --env {server.env} && ./deploy.sh lab up --env "
              f"{server.env} makes it anew (deleting everything on it)", file=sys.stderr)
    if found and not found["State"]["Running"]:
        _docker("start", server.name)
    elif not found:
        caps = [arg for cap in CAPABILITIES for arg in ("--cap-add", cap)]
        security = [arg for option in SECURITY for arg in ("--security-opt", option)]
        _docker("run", "-d", "--name", server.name, "--hostname", server.hostname, "--network", NETWORK,
                "--ip", server.address, *caps, *security, "-v", f"{server.docker_volume}:/var/lib/docker",
                "--restart", "unless-stopped", "--label", "org.edupro.lab=1", "--label", f"org.edupro.lab.run={layout.run}",
                "--label", f"org.edupro.lab.tier={server.tier}",
                "--label", f"org.edupro.lab.definition={definition}", tag, what=f"docker run of lab server {server.name}")


def up(layout: Layout, env: str) -> list[LabServer]:
    made = servers(layout, env)
    ensure_docker()
    tag = _build_image(layout)
    _ensure_network()
    _operator_key(made[0])
    for server in made:  # side by side: each boots while the next is created
        _start(layout, server, tag)
    registry.up(layout, NETWORK, BASE_IMAGE)  # the private registry the deploy pushes to, beside the servers
    keys = []
    for server in made:
        _wait_ready(server)
        if server.tier != "all":  # staging's server keeps the provider's default policy of the image
            _apply_firewall(server, firewall_rules(layout, server, made))
        keys.append(_authorise(server))
    _write_private(made[0].known_hosts, "".join(keys))
    _write_private(made[0].ssh_config, "".join(ssh_config_text(server) for server in made))
    for server in made:
        _wait_for_ssh(server)
    return made


def down(layout: Layout, env: str) -> list[LabServer]:
    """The servers are deleted with everything on them, as VMs are; the operator's key is kept."""
    made = servers(layout, env)
    for server in made:
        subprocess.run(["ssh", "-F", str(server.ssh_config), "-O", "exit", server.address], capture_output=True)
        if _container(server):
            _docker("rm", "-f", server.name)
        subprocess.run(["docker", "volume", "rm", "-f", server.docker_volume], capture_output=True)
    registry.down(layout)
    made[0].known_hosts.unlink(missing_ok=True)
    return made


def status(layout: Layout, env: str) -> list[dict[str, Any]]:
    docker = subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    found = []
    for server in servers(layout, env):
        container = _container(server) if docker else None
        state = "absent" if not container else ("running" if container["State"]["Running"] else "stopped")
        found.append({"env": env, "tier": server.tier, "name": server.name, "state": state, "address": server.address,
                      "ssh": server.ssh_url, "user": USER, "ssh_key": str(server.identity_file),
                      "known_hosts": str(server.known_hosts), "ssh_config": str(server.ssh_config),
                      "network": NETWORK, "subnet": SUBNET})
    return found

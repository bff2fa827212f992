"""deploy.sh over SSH: the stack installed onto a server, as an operator does it (`up --env staging`).

Where an environment lives is its profile's host (specs/environments/<env>.yaml, `target.host: ssh://…` and
`target.ssh_config`). deploy.sh reaches it with the OpenSSH client and that ssh_config (the host key pinned, key
login only), and on the server, with sudo:
- installs the Debian packages of the stack;
- unpacks a release of this checkout (its files and the built frontend) into /opt/edupro/releases/<id>, with its
  own Python environment made from the wheelhouse (the server needs no package index);
- delivers the configuration: the secrets generated on the operator's side (run/secrets-<env>.json) and the
  server's name and address (host.yaml), owner-only, into /var/lib/edupro, the server's run directory;
- runs the release's own stack verbs there (/usr/local/bin/edupro-stack, the local driver on the server): the
  first deploy brings the stack up; a later one releases the new code blue-green, and only when it serves does
  /opt/edupro/current move to it. A failed deploy leaves the previous release serving.
The stack itself installs the backup schedule into /etc/cron.d and the log rotation into /etc/logrotate.d
(`operations.install: system` of the environment's configuration); the database, cache and monitoring listen on
the server's loopback, so only 22/80/443 face the outside.

A profile that says `target.runs: containers` gets the paper's deployment: Docker Engine and Compose on the server
(server_docker: the paper's daemon.json, the deploy user in the docker group), the stack's images built on the
operator's side and shipped to the server, and the release's stack verbs there run the compose driver
(docker-compose.test.yml: restart policies, health checks, the dedicated network, named volumes); only the proxy
publishes ports (80, 443). Its run directory on the server is /var/lib/edupro/compose.

A profile that lists the tiers' hosts (`target.hosts: {web: [...], app: [...], data: [...]}`, the paper's
three-tier network) is deployed tier by tier: every server prepared side by side (packages, wheelhouse, release,
configuration with its tier and the others' addresses in host.yaml), then the data tier brought up, then the
application servers, then the web tier. The addresses in target.hosts are the ones the tiers reach each other at.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets as secrets_module
import shlex
import subprocess
import sys
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from . import server_docker
from .config import load
from .layout import Layout
from .processes import StackError, run
from .registry import Registry
from .registry import from_profile as registry_from_profile

ROOT = "/opt/edupro"
RUN = "/var/lib/edupro"
COMMAND = "/usr/local/bin/edupro-stack"
WHEELS = f"{ROOT}/wheels"
SERVER_REQUIREMENTS = Path("stack") / "ops" / "requirements-server.txt"
# The stack's servers, and the paper's base set of a prepared host (ENV-02), as deploy.sh installs them here too.
BASE_PACKAGES = ("openssl", "python3-venv", "cron", "logrotate", "procps", "iproute2", "postgresql-client-15",
                 "curl", "wget", "git", "unzip", "software-properties-common", "apt-transport-https",
                 "ca-certificates", "gnupg", "lsb-release", "ufw", "fail2ban", "htop", "tree", "jq")
# What runs the stack: its servers as processes, or Docker (the servers are in the images).
PACKAGES = {"processes": ("postgresql-15", "nginx", "redis-server", "prometheus", "prometheus-node-exporter",
                          *BASE_PACKAGES),
            "containers": (*server_docker.PACKAGES, *BASE_PACKAGES)}
RUNS = tuple(PACKAGES)
KEEP_RELEASES = 3
SPECS_VARIABLE = "EDUPRO_SPECS"


class TargetError(StackError):
    """The server cannot be reached or used as given (exit 4): what is wrong and what to do, in one line."""


@dataclass(frozen=True)
class Server:
    env: str
    url: str  # ssh://user@address
    user: str
    address: str
    ssh_config: Path | None
    base_url: str
    server_name: str
    tier: str = "all"  # what it runs: the whole stack, or one tier of the three-tier network
    runs: str = "processes"  # the stack as processes, or in containers (target.runs)
    registry: Registry | None = None  # where the images reach the server from (target.registry); else over SSH

    @property
    def run_dir(self) -> str:
        """The stack's run directory on the server (the compose driver keeps its own beside the local one's)."""
        return RUN if self.runs == "processes" else f"{RUN}/compose"

    @property
    def label(self) -> str:
        return f"{self.env} ({self.url})" if self.tier == "all" else f"{self.env} {self.tier} ({self.url})"


TIERS = ("web", "app", "data")


def _target(layout: Layout, env: str) -> tuple[Path, dict[str, Any]] | None:
    specs = Path(os.environ.get(SPECS_VARIABLE) or layout.repo / "specs")
    profile = specs / "environments" / f"{env}.yaml"
    if not profile.is_file():
        return None
    try:
        target = (yaml.safe_load(profile.read_text()) or {}).get("target") or {}
    except yaml.YAMLError:
        raise TargetError(f"{profile}: is not valid YAML; fix it before deploying") from None
    if target.get("inventory"):  # the tiers' servers from an Ansible inventory, read as the suite reads it
        # (imported here: only the operator's machine has the suite installed, not the servers)
        from edupro_verify.errors import TargetError as InventoryError
        from edupro_verify.providers import ansible_inventory
        try:
            hosts = ansible_inventory.tiers(_in_repository(layout, target["inventory"]), f"{profile}: target.inventory")
        except InventoryError as error:
            raise TargetError(str(error)) from None
        target = {**target, "hosts": hosts, "host": target.get("host") or hosts["web"][0]}
    return profile, target


def _in_repository(layout: Layout, given: object) -> Path:
    """A path the profile gives: absolute, or relative to the repository."""
    path = Path(os.path.expanduser(str(given)))
    return path if path.is_absolute() else layout.repo / path


def server_for(layout: Layout, env: str) -> Server | None:
    """The environment's server (the one its profile's target.host names, over SSH); None for a stack of this
    machine."""
    found = _target(layout, env)
    if found is None:
        return None
    profile, target = found
    host = str(target.get("host") or "")
    if not host.startswith("ssh://"):
        return None
    parsed = urlparse(host)
    if not parsed.hostname or not parsed.username:
        raise TargetError(f"{profile}: target.host: write ssh://USER@ADDRESS (got {host})")
    config = target.get("ssh_config")
    config_path = _in_repository(layout, config) if config else None
    runs = str(target.get("runs") or "processes")
    if runs not in RUNS:
        raise TargetError(f"{profile}: target.runs: write {' or '.join(RUNS)} (got {runs})")
    if runs == "containers" and target.get("hosts"):
        raise TargetError(f"{profile}: target.runs: containers is built for one server so far; a profile listing "
                          "the tiers' hosts runs them as processes (target.runs: processes)")
    return Server(env, host, parsed.username, parsed.hostname, config_path,
                  str(target.get("base_url") or f"https://{parsed.hostname}").rstrip("/"),
                  str(target.get("server_name") or parsed.hostname), runs=runs,
                  registry=registry_from_profile(layout, target.get("registry"), str(profile)))


def tier_servers(layout: Layout, server: Server) -> list[Server]:
    """The servers of each tier when the profile lists them (target.hosts), web first; [] for one server."""
    found = _target(layout, server.env)
    hosts = (found[1].get("hosts") or {}) if found else {}
    if not hosts:
        return []
    profile = found[0] if found else server.env
    missing = [tier for tier in TIERS if not hosts.get(tier)]
    if missing or set(hosts) - set(TIERS):
        raise TargetError(f"{profile}: target.hosts: list the servers of each tier: web, app and data "
                          f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(set(hosts) - set(TIERS)) or 'none'})")
    made = []
    for tier in TIERS:
        for url in hosts[tier]:
            parsed = urlparse(str(url))
            if parsed.scheme != "ssh" or not parsed.hostname or not parsed.username:
                raise TargetError(f"{profile}: target.hosts.{tier}: write ssh://USER@ADDRESS (got {url})")
            made.append(replace(server, url=str(url), user=parsed.username, address=parsed.hostname, tier=tier))
    return made


def ssh_command(server: Server, command: str) -> list[str]:
    base = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
    if server.ssh_config and not server.ssh_config.is_file():
        raise TargetError(f"{server.label}: target.ssh_config: {server.ssh_config} does not exist; for the lab "
                          f"server run ./deploy.sh lab up --env {server.env}")
    if server.ssh_config:
        base += ["-F", str(server.ssh_config)]
    return [*base, f"{server.user}@{server.address}", command]


def _explain(server: Server, stderr: str) -> str:
    text = stderr.strip()
    if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return (f"{server.label}: the server's host key is not the one pinned in known_hosts; if the server was "
                "rebuilt, check its new key with the provider and replace the pinned one")
    if "Permission denied" in text:
        return f"{server.label}: the server refused the SSH key; give {server.user} the operator's public key"
    if any(s in text for s in ("Connection refused", "timed out", "No route to host", "Could not resolve")):
        return f"{server.label}: unreachable over SSH ({text.splitlines()[-1]}); is the server up? (lab: ./deploy.sh lab up)"
    return f"{server.label}: SSH failed ({(text.splitlines() or ['no output'])[-1]})"


def ssh(server: Server, command: str, stdin: bytes | None = None, check: bool = True,
        stream: bool = False, what: str = "") -> subprocess.CompletedProcess[bytes]:
    """Run COMMAND on the server; SSH's own failures (exit 255) become one line naming what to fix, a failed
    command one line naming WHAT failed and its last line of output."""
    result = subprocess.run(ssh_command(server, command), input=stdin, capture_output=not stream,
                            stderr=subprocess.PIPE if stream else None)
    stderr = (result.stderr or b"").decode(errors="replace")
    if result.returncode == 255:
        raise TargetError(_explain(server, stderr))
    if check and result.returncode != 0:
        last = (stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        raise StackError(f"{server.label}: {what or 'a command'} failed: {last}")
    return result


def sudo(server: Server, command: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return ssh(server, f"sudo -n sh -c {shlex.quote(command)}", **kwargs)


def say(message: str) -> None:
    print(f"deploy.sh: {message}", file=sys.stderr, flush=True)


def check_access(server: Server) -> None:
    ssh(server, "true")
    if ssh(server, "sudo -n true", check=False).returncode != 0:
        raise TargetError(f"{server.label}: {server.user} may not use sudo without a password; "
                          f"add /etc/sudoers.d/{server.user} on the server")


def install_packages(server: Server) -> None:
    wanted = PACKAGES[server.runs]
    changed = server_docker.configure_daemon(server) if server.runs == "containers" else False
    listing = sudo(server, "dpkg-query -W -f '${Package} ${Status}\\n' " + " ".join(wanted) + " 2>/dev/null || true")
    installed = {line.split()[0] for line in listing.stdout.decode().splitlines() if line.endswith("ok installed")}
    missing = [p for p in wanted if p not in installed]
    if missing:
        _install(server, missing)
    if server.runs == "containers":
        server_docker.start(server, restart=changed)
        server_docker.allow_deploy_user(server)


def _install(server: Server, missing: list[str]) -> None:
    say(f"{server.label}: installing {len(missing)} Debian packages: {' '.join(missing)}")
    # The stack runs its own instances of these servers: Debian's policy-rc.d keeps the packaged ones from being
    # started on install (they would hold 5432, 6379, 80, 9090 and 9100).
    install = ("export DEBIAN_FRONTEND=noninteractive; printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && "
               "chmod 755 /usr/sbin/policy-rc.d && apt-get update -q >/dev/null && "
               f"apt-get install -y -q --no-install-recommends {' '.join(missing)} >/dev/null; "
               "status=$?; rm -f /usr/sbin/policy-rc.d; exit $status")
    sudo(server, install, what="apt-get install of the stack's packages")


def _release_files(layout: Layout) -> list[Path]:
    listed = ["git", "-C", str(layout.repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = run(listed, what="git ls-files").stdout.split("\0")
    files = [layout.repo / name for name in tracked if name and (layout.repo / name).is_file()]
    files += sorted(p for p in layout.frontend.rglob("*") if p.is_file())
    return files


def bundle(layout: Layout, version: str) -> tuple[str, bytes]:
    """This checkout as a release: its files (as they are, committed or not) and the built frontend, packed the same
    way every time, so the same content is the same release id."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for path in _release_files(layout):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(layout.repo)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    content = hashlib.sha256()
    for path in _release_files(layout):
        content.update(str(path.relative_to(layout.repo)).encode() + b"\0" + path.read_bytes())
    return f"{version}-{content.hexdigest()[:10]}", buffer.getvalue()


def upload_wheels(layout: Layout, server: Server) -> None:
    from .compose import ensure_wheelhouse

    wheels = ensure_wheelhouse(layout, layout.repo / SERVER_REQUIREMENTS)
    stamp = hashlib.sha256(b"".join(sorted(p.name.encode() for p in wheels.glob("*.whl")))).hexdigest()
    have = sudo(server, f"cat {WHEELS}/.stamp 2>/dev/null || true").stdout.decode().strip()
    if have == stamp:
        return
    say(f"{server.label}: uploading the wheelhouse ({sum(p.stat().st_size for p in wheels.glob('*.whl')) >> 20} MB)")
    tar = subprocess.run(["tar", "-C", str(wheels), "-c", "."], capture_output=True, check=True).stdout
    sudo(server, f"rm -rf {WHEELS} && mkdir -p {WHEELS} && tar -x -C {WHEELS} && echo {stamp} > {WHEELS}/.stamp",
         stdin=tar, what="the wheelhouse upload")


def upload_release(layout: Layout, server: Server, release: str, payload: bytes) -> str:
    folder = f"{ROOT}/releases/{release}"
    if sudo(server, f"test -e {folder}/.complete", check=False).returncode == 0:
        return folder
    say(f"{server.label}: uploading release {release} ({len(payload) >> 10} KB) and making its Python environment")
    sudo(server, f"rm -rf {folder}.partial && mkdir -p {folder}.partial && tar -xz -C {folder}.partial", stdin=payload,
         what="the release upload")
    sudo(server, f"cd {folder}.partial && python3 -m venv .venv && .venv/bin/pip install -q --no-index "
                 f"--disable-pip-version-check --find-links {WHEELS} -r {SERVER_REQUIREMENTS}",
         what="the release's Python environment (pip from the wheelhouse)")
    sudo(server, f"touch {folder}.partial/.complete && rm -rf {folder} && mv {folder}.partial {folder}")
    return folder


def host_settings(server: Server) -> dict[str, Any]:
    """What only this server knows: the name and address people reach it by (host.yaml on the server)."""
    origin = server.base_url
    names = list(dict.fromkeys([server.server_name, server.address]))
    return {"proxy": {"server_name": server.server_name},
            "tls": {"alt_names": names, "subject": {"CN": server.server_name}},
            "api": {"cors_origins": list(dict.fromkeys([origin, f"https://{server.server_name}"]))}}


def tier_settings(server: Server, tiers: list[Server]) -> dict[str, Any]:
    """A tier's server: its role, the others' addresses, and on an application server where the data tier is."""
    of = {tier: [s.address for s in tiers if s.tier == tier] for tier in TIERS}
    settings: dict[str, Any] = {"tiers": {"role": server.tier, "address": server.address, **of}}
    if server.tier == "app":
        settings["database"] = {"host": of["data"][0]}
        settings["cache"] = {"host": of["data"][0]}
    return settings


# The secrets each tier's services use; the others never reach its server (a broken-into web server holds no password
# of the database). Their place in the file is taken by a random value of the same strength, which opens nothing.
SECRETS_OF_TIER = {"web": (), "app": ("app_password", "redis_password", "jwt_secret", "data_encryption_key")}


def secrets_for(values: dict[str, str], tier: str) -> dict[str, str]:
    if tier not in SECRETS_OF_TIER:  # the data tier, or one server for everything: all of them
        return dict(values)
    return {key: value if key in SECRETS_OF_TIER[tier] else f"withheld-{secrets_module.token_urlsafe(32)}"
            for key, value in values.items()}


def check_secrets(layout: Layout, server: Server, env: str) -> None:
    """A server that already runs with other secrets than the operator's (another checkout made them) is refused
    before anything is delivered: its database and cache would refuse the new ones, and supervision would start its
    services with them. Compared in memory, never printed."""
    found = sudo(server, f"cat {server.run_dir}/secrets-{env}.json 2>/dev/null || true").stdout.decode().strip()
    if not found:
        return  # a server never deployed to
    try:
        theirs = json.loads(found)
    except ValueError:
        return  # unreadable: it is replaced
    ours = json.loads(layout.secrets_file(env).read_text())
    kept = SECRETS_OF_TIER.get(server.tier, tuple(ours))
    differing = [key for key in kept if key in theirs and theirs[key] != ours.get(key)]
    if differing:
        raise TargetError(f"{server.label}: runs with other secrets than {layout.secrets_file(env)} ({len(differing)} "
                          f"differ): deploy from the checkout whose run directory made them (copy its "
                          f"secrets-{env}.json here), or delete the server to start anew; nothing was changed")


def deliver_configuration(layout: Layout, server: Server, env: str, tiers: list[Server] | None = None) -> None:
    values = json.loads(layout.secrets_file(env).read_text())  # generated on the operator's side by load(); never printed
    run_dir = server.run_dir
    sudo(server, f"install -d -m 755 {RUN} {run_dir} && umask 077 && cat > {run_dir}/secrets-{env}.json.new && "
                 f"chmod 600 {run_dir}/secrets-{env}.json.new && mv {run_dir}/secrets-{env}.json.new "
                 f"{run_dir}/secrets-{env}.json",
         stdin=json.dumps(secrets_for(values, server.tier)).encode(), what="the delivery of the secrets")
    host = host_settings(server)
    if tiers:
        host.update(tier_settings(server, tiers))
    settings = yaml.safe_dump(host, sort_keys=False).encode()
    sudo(server, f"cat > {run_dir}/host.yaml && chmod 644 {run_dir}/host.yaml", stdin=settings,
         what="the delivery of host.yaml")


# What the services started by a stack verb may open: an SSH session's 1024 files are too few for nginx's 4096
# connections per worker under load (as a service manager's LimitNOFILE would raise it), up to the host's hard limit.
NOFILE = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null || true'  # up to the hard limit


def _command_for(server: Server, folder: str) -> str:
    return f"{NOFILE}; {_stack_verbs(server, folder)}"


def _stack_verbs(server: Server, folder: str) -> str:
    """The release's stack verbs on the server: the local driver for processes; for containers the compose driver,
    with the images deploy.sh shipped (nothing is built there)."""
    driver = "local" if server.runs == "processes" else f"compose {compose_prebuilt()}"
    return (f"env EDUPRO_DRIVER={driver} EDUPRO_RUN_DIR={RUN} EDUPRO_PORT_OFFSET= "
            f"PYTHONPATH={folder}/stack/ops:{folder}/stack/backend {folder}/.venv/bin/python -m edupro_stack.cli")


def compose_prebuilt() -> str:
    from .compose import PREBUILT_VARIABLE
    return f"{PREBUILT_VARIABLE}=1"


def install_command(server: Server) -> None:
    """/usr/local/bin/edupro-stack: the current release's stack verbs, for the operator and for cron."""
    script = ("#!/bin/sh\n# EduPro's stack verbs on this server (installed by deploy.sh; the current release).\n"
              f"{NOFILE}\nexec {_stack_verbs(server, ROOT + '/current')} \"$@\"\n").encode()
    sudo(server, f"cat > {COMMAND} && chmod 755 {COMMAND}", stdin=script, what=f"the install of {COMMAND}")


def remote_status(server: Server) -> dict[str, Any] | None:
    if sudo(server, f"test -x {COMMAND}", check=False).returncode != 0:
        return None
    found = sudo(server, f"{COMMAND} status --json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def up(layout: Layout, env: str, server: Server) -> str:
    if tiers := tier_servers(layout, server):
        return up_tiers(layout, env, tiers)
    cfg = load(layout, env)  # validated here, and the secrets generated here, before the server is touched
    check_access(server)
    check_secrets(layout, server, env)
    install_packages(server)
    from .stack import ensure_frontend
    ensure_frontend(layout)
    release, payload = bundle(layout, cfg.application.version)
    if server.runs == "containers" and sudo(server, f"test -e {RUN}/state.json", check=False).returncode == 0:
        raise StackError(f"{server.label}: runs EduPro as processes ({RUN}/state.json); stop them first (on the "
                         f"server: sudo {COMMAND} down, and remove /etc/cron.d/edupro-supervise), then deploy the "
                         "containers; nothing was changed")
    upload_wheels(layout, server)
    folder = upload_release(layout, server, release, payload)
    if server.runs == "containers":
        server_docker.ship(layout, server, cfg.application.version)
    deliver_configuration(layout, server, env)
    current = sudo(server, f"readlink {ROOT}/current || true").stdout.decode().strip()
    status = remote_status(server)
    running = bool(status and status["services"]["proxy"]["state"] == "running")
    if running and current != folder:
        say(f"{server.label}: releasing {release} blue-green beside the serving release")
        _stream(server, f"{_command_for(server, folder)} release {cfg.application.version}")
    else:
        say(f"{server.label}: bringing the stack up from release {release}")
        _stream(server, f"{_command_for(server, folder)} up --env {env}")
    sudo(server, f"ln -sfn {folder} {ROOT}/current.new && mv -T {ROOT}/current.new {ROOT}/current",
         what=f"the switch of {ROOT}/current")
    install_command(server)
    _prune(server, folder, current)
    return release


def up_tiers(layout: Layout, env: str, tiers: list[Server]) -> str:
    """Every server prepared side by side; then the tiers brought up from the back: data, application, web."""
    cfg = load(layout, env)  # validated here, and the secrets generated here, before a server is touched
    from .stack import ensure_frontend
    ensure_frontend(layout)
    release, payload = bundle(layout, cfg.application.version)

    _on_each(tiers, check_access)  # every server reachable and usable, and on the same secrets, before any is touched
    _on_each(tiers, lambda server: check_secrets(layout, server, env))

    def prepare(server: Server) -> tuple[str, str]:
        install_packages(server)
        upload_wheels(layout, server)
        folder = upload_release(layout, server, release, payload)
        deliver_configuration(layout, server, env, tiers)
        return folder, sudo(server, f"readlink {ROOT}/current || true").stdout.decode().strip()

    with ThreadPoolExecutor(len(tiers)) as pool:
        prepared = dict(zip(tiers, pool.map(prepare, tiers), strict=True))
    web = [s for s in tiers if s.tier == "web"]
    serving = remote_status(web[0]) if web else None
    if serving and serving["services"]["proxy"]["state"] == "running" and any(
            current != folder for folder, current in prepared.values()):
        say(f"releasing {release} blue-green across the application servers beside the serving release")
        switch_tiers(tiers, lambda s: _command_for(s, prepared[s][0]),
                     f"release {shlex.quote(cfg.application.version)}")
    else:
        for tier in ("data", "app", "web"):  # from the back: each tier needs the one behind it
            say(f"bringing the {tier} tier up from release {release}")
            _on_each([s for s in tiers if s.tier == tier],
                     lambda s: _stream(s, f"{_command_for(s, prepared[s][0])} up --env {env}"))
    for server, (folder, current) in prepared.items():
        sudo(server, f"ln -sfn {folder} {ROOT}/current.new && mv -T {ROOT}/current.new {ROOT}/current",
             what=f"the switch of {ROOT}/current")
        install_command(server)
        _prune(server, folder, current)
    return release


def _on_each(servers: list[Server], action: Callable[[Server], None]) -> None:
    """ACTION on every server at once; the first failure is raised once all have finished."""
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        list(pool.map(action, servers))


def switch_tiers(tiers: list[Server], command: Callable[[Server], str], verb_args: str) -> None:
    """A release or rollback across servers of their own: each application server starts the idle colour beside
    the live one; once all serve, the web server switches its upstream to them (a graceful reload: requests in
    flight finish on the old colour); then each application server records the switch and stops the old colour.
    If an application server cannot start the colour, nothing has switched: the live colour serves on."""
    apps, web = [s for s in tiers if s.tier == "app"], [s for s in tiers if s.tier == "web"]
    _on_each(apps, lambda s: _stream(s, f"{command(s)} {verb_args} --tier-step start"))
    _on_each(web, lambda s: _stream(s, f"{command(s)} {verb_args} --tier-step switch"))
    _on_each(apps, lambda s: _stream(s, f"{command(s)} {verb_args} --tier-step switch"))


def _stream(server: Server, command: str) -> None:
    """A stack verb on the server; its own one-line failure is the deploy's."""
    result = sudo(server, command, check=False)
    out = result.stdout.decode(errors="replace").strip()
    if result.returncode != 0:
        last = (result.stderr.decode(errors="replace").strip().splitlines() or [f"exit {result.returncode}"])[-1]
        raise StackError(f"{server.label}: {last.removeprefix('deploy.sh: ')}; the previous release (if any) is "
                         "still serving")
    if out:
        say(f"{server.label}: {out.splitlines()[-1]}")


def _prune(server: Server, keep: str, previous: str) -> None:
    names = sudo(server, f"ls -1t {ROOT}/releases 2>/dev/null || true").stdout.decode().split()
    keepers = {keep.rsplit("/", 1)[1], previous.rsplit("/", 1)[-1]}
    old = [n for n in names if n not in keepers and not n.endswith(".partial")][KEEP_RELEASES:]
    if old:
        sudo(server, "rm -rf " + " ".join(f"{ROOT}/releases/{n}" for n in old))


def verb(server: Server, args: list[str], tiers: list[Server] | None = None) -> int:
    """Any other stack verb (status, down, backup, restore, release, rollback) runs on the server as it is; a
    release or rollback of tiers on servers of their own runs across them (switch_tiers)."""
    if tiers and args and args[0] in ("release", "rollback"):
        for each in tiers:
            if sudo(each, f"test -x {COMMAND}", check=False).returncode != 0:
                raise StackError(f"{each.label}: EduPro is not deployed there; run ./deploy.sh up --env {each.env}")
        switch_tiers(tiers, lambda s: f"{NOFILE}; {COMMAND}", " ".join(shlex.quote(a) for a in args))
        print(f"{'released' if args[0] == 'release' else 'rolled back'} across {len(tiers)} servers")
        return 0
    if sudo(server, f"test -x {COMMAND}", check=False).returncode != 0:
        raise StackError(f"{server.label}: EduPro is not deployed there; run ./deploy.sh up --env {server.env}")
    result = sudo(server, f"{COMMAND} {' '.join(shlex.quote(a) for a in args)}", check=False, stream=True)
    if result.returncode != 0 and result.stderr:
        sys.stderr.write(result.stderr.decode(errors="replace"))
    return result.returncode


def qa_secrets(layout: Layout, server: Server, env: str) -> Path:
    """What the operator hands to QA for this server, as the suite reads it (EDUPRO_VERIFY_SECRETS): the database
    owner's, the application role's and the cache's passwords, the token key, the data key and the test accounts. Written owner-only into
    the run directory; never printed."""
    values = json.loads(layout.secrets_file(env).read_text())
    accounts = sudo(server, f"cat {server.run_dir}/demo-accounts.json 2>/dev/null || echo '[]'").stdout.decode()
    handed = {"database_password": values["owner_password"], "database_app_password": values["app_password"],
              "redis_password": values["redis_password"],
              "jwt_secret": values["jwt_secret"], "data_encryption_key": values["data_encryption_key"],
              "accounts": json.loads(accounts)}
    path = layout.run / f"qa-secrets-{env}.yaml"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        yaml.safe_dump(handed, handle)
    return path

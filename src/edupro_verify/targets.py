"""The system under verification: where it is, how to reach it, and the credentials to do so."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import docker
import psycopg
import redis
import requests
import testinfra
import urllib3
import yaml

from . import process, tunnels
from .errors import ProbeError, TargetError, request_failure
from .inventory import Inventory
from .providers import ansible_inventory, docker_host
from .spec import Profile

REPO = Path(__file__).resolve().parents[2]
SECRETS_VARIABLE = "EDUPRO_VERIFY_SECRETS"
SPECS_VARIABLE = "EDUPRO_SPECS"  # the specs folder the deployment's own tool reads its profiles from


@dataclass
class Account:
    username: str
    password: str
    role: str


@dataclass
class Secrets:
    database_password: str | None = None
    redis_password: str | None = None
    jwt_secret: str | None = None
    accounts: list[Account] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # passwords of the suite's own fixture accounts
    data_encryption_key: str | None = None  # the key personal data is sealed with at rest (DATA-05), where given
    database_app_password: str | None = None  # the application role's, to try what the application may (DATA-02)

    def values(self) -> list[str]:
        """Every secret value, so reports can be searched for them (RPT-04)."""
        found = [self.database_password, self.redis_password, self.jwt_secret, self.data_encryption_key,
                 self.database_app_password]
        found += [a.password for a in self.accounts] + self.extra
        return [v for v in found if v]


@dataclass
class Target:
    host_spec: str
    base_url: str
    http_url: str
    server_name: str
    prometheus_url: str
    database: dict[str, Any]
    cache: dict[str, Any]
    paths: dict[str, Path]
    secrets: Secrets
    driver: str = "remote"
    inventory: Inventory = field(default_factory=Inventory)
    deploy_command: list[str] | None = None  # the deployment's own tool and the arguments each call ends with
    tier_hosts: dict[str, list[str]] = field(default_factory=dict)
    sudo: bool = False
    where: dict[str, str] = field(default_factory=dict)  # service or path -> the tier whose first host holds it
    ssh_config: str | None = None
    specs: Path | None = None  # the run's specs folder: the deploy tool acts on the servers its profiles name
    inventory_file: Path | None = None  # the Ansible inventory the tiers' servers were read from, if any
    docker_socket: str | None = None  # the server's Docker API forwarded over SSH (containers on a server)

    @cached_property
    def host(self) -> Any:
        return testinfra.get_host(self.host_spec, sudo=self.sudo)

    def _connect(self, spec: str) -> Any:
        if spec.split("?", 1)[0] == self.host_spec.split("?", 1)[0]:
            return self.host
        return testinfra.get_host(with_ssh_config(spec, self.ssh_config), sudo=self.sudo)

    @cached_property
    def hosts(self) -> dict[str, Any]:
        """Every host to check, by label ("web ssh://deploy@web1"); just the one host when no tiers are listed."""
        if not self.tier_hosts:
            return {"": self.host}
        return {f"{tier} {spec}": self._connect(spec) for tier, specs in self.tier_hosts.items() for spec in specs}

    def tier(self, name: str) -> dict[str, Any]:
        """A tier's hosts, by label; {} when the profile lists none for it."""
        return {label: host for label, host in self.hosts.items() if label.split(" ", 1)[0] == name}

    def tier_addresses(self, name: str) -> list[str]:
        """The addresses of a tier's hosts (the host names of their specs: how the tiers reach each other)."""
        return [urlparse(spec.split("?", 1)[0]).hostname or "" for spec in self.tier_hosts.get(name, [])]

    @property
    def ssh_user(self) -> str | None:
        """The user the target host is logged in to over SSH (None for this machine)."""
        return urlparse(self.host_spec.split("?", 1)[0]).username if self.host_spec.startswith("ssh://") else None

    @property
    def address(self) -> str:
        """The target host's address (this machine's loopback for a local:// host)."""
        return urlparse(self.host_spec.split("?", 1)[0]).hostname or "127.0.0.1"

    def server_addresses(self) -> dict[str, str]:
        """Every server of the profile, label -> the address the others reach it at (one server: the target host)."""
        if not self.tier_hosts:
            return {self.host_spec.split("?", 1)[0]: self.address}
        return {label: address for tier in self.tier_hosts
                for label, address in zip(self.tier(tier), self.tier_addresses(tier), strict=True)}

    def host_at(self, address: str) -> Any | None:
        """The tier host whose address this is (a service seen on its own server), if the profile lists one."""
        for tier in self.tier_hosts:
            for label, found in zip(self.tier(tier), self.tier_addresses(tier), strict=True):
                if found == address:
                    return self.hosts[label]
        return None

    def host_of(self, name: str) -> Any:
        """The host that holds a service or a path: the first of its tier's (the profile's `where`), else the
        target's host."""
        tier = self.where.get(name)
        return next(iter(self.tier(tier).values())) if tier and self.tier(tier) else self.host

    @property
    def containers(self) -> dict[str, str]:
        """Service -> container name, when the stack runs in containers (deploy.sh's compose driver)."""
        return dict(self.inventory.containers)

    def service_host(self, service: str) -> Any:
        """Where a service's own programs run: its container, or its host."""
        if service in self.containers:
            if self.docker_socket:  # a container of the server: `docker exec` there
                return docker_host.container_host(self.host, self.containers[service])
            return testinfra.get_host(f"docker://{self.containers[service]}")
        return self.host_of(service)

    def deploy(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The target's own deploy.sh (config, release, rollback), for the checks that exercise it. It reads the run's
        own specs folder, so it acts only on the servers the run's profile names."""
        if self.deploy_command is None:
            raise ProbeError("this check needs the deployment's own tool: add target.deploy (command, arguments) "
                             "to the profile")
        command, *tail = self.deploy_command
        tail = [] if "--env" in args else tail  # a call that names its environment keeps it
        env = {**os.environ, SPECS_VARIABLE: str(self.specs.resolve())} if self.specs else None
        return process.run([command, *args, *tail], timeout=600, env=env, cwd=REPO)

    def on_host(self, service: dict[str, Any]) -> tuple[str, int]:
        """A service's address as the target host sees it (behind a tunnel: the server's end)."""
        if "on_server" in service:
            host, port = str(service["on_server"]).rsplit(":", 1)
            return host, int(port)
        return str(service["host"]), int(service["port"])

    @property
    def app_role(self) -> str:
        """The database role the application connects as."""
        return str(self.database.get("app_role", "edupro_app"))

    def account(self, role: str) -> Account:
        for account in self.secrets.accounts:
            if account.role == role:
                return account
        raise ProbeError(f"no {role} account in the secrets; add one to {SECRETS_VARIABLE}")

    def path(self, name: str) -> Path:
        if name not in self.paths:
            raise ProbeError(f"the profile gives no path for '{name}'")
        return self.paths[name]

    def http(self) -> requests.Session:
        session = requests.Session()
        # The certificate itself is judged by TLS-01..03, not by the client; callers pass verify=False
        # on each request because REQUESTS_CA_BUNDLE in the environment overrides a session's setting.
        session.verify = False
        return session

    def connect_db(self, dbname: str | None = None, *, as_application: bool = False,
                   autocommit: bool = True) -> psycopg.Connection:
        """The suite's connection (the profile's database user), or the application role's (AS_APPLICATION)."""
        db = self.database
        if "host" not in db:
            raise ProbeError("the profile names no database: add target.database (host, port, name, user)")
        user, password = db["user"], self.secrets.database_password
        if as_application:
            user, password = self.app_role, self.secrets.database_app_password
            if not password:
                raise ProbeError(f"no password of the application role {user} in the secrets; set "
                                 f"database_app_password in {SECRETS_VARIABLE} to try what the application may do")
        elif not password:
            raise ProbeError(f"no database password in the secrets; set it in {SECRETS_VARIABLE}")
        try:
            return psycopg.connect(host=db["host"], port=db["port"], dbname=dbname or db["name"], user=user,
                                   password=password, sslmode=db.get("sslmode", "prefer"),
                                   connect_timeout=5, autocommit=autocommit)
        except psycopg.OperationalError as error:
            raise ProbeError(f"database {db['host']}:{db['port']} unreachable: {str(error).strip().splitlines()[-1]}") from None

    def redis(self, password: str | None | bool = True) -> redis.Redis:
        """A client; password=True uses the secret, None connects without one."""
        if "host" not in self.cache:
            raise ProbeError("the profile names no cache: add target.cache (host, port)")
        secret = self.secrets.redis_password if password is True else password
        # retry=None: redis-py 7 retries a refused command with back-off for seconds; a probe wants one answer.
        return redis.Redis(host=self.cache["host"], port=self.cache["port"], password=secret or None,
                           socket_timeout=3, socket_connect_timeout=3, retry=None)


def _run_status(repo: Path) -> dict[str, Any]:
    command = [str(repo / "deploy.sh"), "status", "--json"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TargetError(f"could not ask deploy.sh for the stack's status: {error}") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"deploy.sh status failed ({last}); run ./deploy.sh up first")
    return json.loads(result.stdout)


def _secrets_from_file(path: Path) -> Secrets:
    if not path.exists():
        raise TargetError(f"{SECRETS_VARIABLE}={path}: file not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise TargetError(f"{path}: expected a mapping of secret names to values")
    accounts = [Account(**a) for a in data.get("accounts", [])]
    return Secrets(data.get("database_password"), data.get("redis_password"), data.get("jwt_secret"), accounts,
                   data_encryption_key=data.get("data_encryption_key"),
                   database_app_password=data.get("database_app_password"))


def _secrets_from_stack(paths: dict[str, Path]) -> Secrets:
    stack = json.loads(paths["secrets"].read_text())
    accounts = []
    if "demo_accounts" in paths and paths["demo_accounts"].exists():
        accounts = [Account(**a) for a in json.loads(paths["demo_accounts"].read_text())]
    return Secrets(stack["owner_password"], stack["redis_password"], stack["jwt_secret"], accounts,
                   data_encryption_key=stack.get("data_encryption_key"), database_app_password=stack.get("app_password"))


def resolve(profile: Profile, repo: Path = REPO) -> Target:
    """The profile's target; `discover: deploy.sh` fills what the profile leaves out from the running stack."""
    spec = profile.target
    if not spec.base_url and spec.discover != "deploy.sh":  # a template: say what to fill before anything else
        raise _no_target(profile)
    inventory_file = _in_repository(spec.inventory, repo) if spec.inventory else None
    if inventory_file:  # the tiers' servers from an Ansible inventory: as if the profile listed them
        hosts = ansible_inventory.tiers(inventory_file)
        spec = spec.model_copy(update={"hosts": hosts, "inventory": None,
                                       "host": spec.host if "host" in spec.model_fields_set else hosts["web"][0]})
    secrets_file = os.environ.get(SECRETS_VARIABLE)
    given = _secrets_from_file(Path(secrets_file)) if secrets_file else None
    status: dict[str, Any] = _run_status(repo) if spec.discover == "deploy.sh" else {}
    if status and status["services"]["proxy"]["state"] != "running":
        raise TargetError("the EduPro stack is not running; start it with ./deploy.sh up")
    paths = {k: Path(v) for k, v in status.get("paths", {}).items()}
    paths.update({k: Path(v) for k, v in spec.paths.items()})
    database = {"user": status.get("database", {}).get("owner_role", "edupro_owner"), **status.get("database", {}),
                **spec.database}
    if given:
        secrets = given
    elif status and "secrets" in paths:  # the development stack's own files, on this machine
        secrets = _secrets_from_stack(paths)
    else:
        raise TargetError(f"no secrets for environment '{profile.name}': set {SECRETS_VARIABLE} to a YAML file "
                          "outside the repository")
    base_url = spec.base_url or status.get("base_url")
    if not base_url:
        raise _no_target(profile)
    ssh_config = _ssh_config(spec.ssh_config, repo, profile.name) if spec.ssh_config else None
    host_spec = with_ssh_config(spec.host, ssh_config)
    cache = {**status.get("cache", {}), **spec.cache}
    prometheus_url = (spec.prometheus_url or status.get("prometheus_url", "")).rstrip("/")
    where = _where(spec)
    if database.get("through") == "ssh":
        database = _through(_host_holding(spec, where, "database"), ssh_config, "database", database, "target.database")
    if cache.get("through") == "ssh":
        cache = _through(_host_holding(spec, where, "cache"), ssh_config, "cache", cache, "target.cache")
    if spec.prometheus_through == "ssh" and prometheus_url:
        address = urlparse(prometheus_url)
        tunnel = tunnels.open_tunnel(spec.host, ssh_config, "monitoring", address.hostname or "127.0.0.1",
                                     address.port or 9090, key="target.prometheus_url")
        prometheus_url = f"{address.scheme}://127.0.0.1:{tunnel.local_port}"
    inventory = Inventory.from_status(status) if status else Inventory()
    docker_socket = None
    if not status and spec.containers:  # the paper's deployment: containers on the server, read over SSH
        docker_socket = docker_host.forward(spec.host, ssh_config)
        inventory = docker_host.inventory(docker_client(docker_socket), spec.containers,
                                          {n: s.model_dump() for n, s in spec.services.items()},
                                          testinfra.get_host(host_spec, sudo=spec.sudo))
    elif not status and spec.services:
        inventory = _observed(host_spec, spec, where, ssh_config)
    deploy_command = [str(repo / "deploy.sh")] if status else None
    if spec.deploy:
        tool = Path(spec.deploy.command)
        deploy_command = [str(repo / tool) if not tool.is_absolute() and "/" in spec.deploy.command else
                          spec.deploy.command, *spec.deploy.arguments]
    paths.setdefault("repository", repo)  # the code under verification: this checkout, and its migrations
    paths.setdefault("migrations", repo / "stack" / "backend" / "alembic.ini")
    return Target(host_spec=host_spec, base_url=base_url.rstrip("/"),
                  http_url=(spec.http_url or status.get("http_url", "")).rstrip("/"),
                  server_name=spec.server_name or status.get("server_name", ""),
                  prometheus_url=prometheus_url, database=database, cache=cache, paths=paths,
                  secrets=secrets, driver=status.get("driver", "remote"),
                  inventory=inventory, tier_hosts=spec.hosts, deploy_command=deploy_command, sudo=spec.sudo,
                  where=where, ssh_config=ssh_config, specs=profile.specs, inventory_file=inventory_file,
                  docker_socket=docker_socket)


def docker_client(socket: str | None) -> Any:
    """docker-py on the daemon that runs the target's containers: the server's (forwarded over SSH) or this
    machine's (the reference stack's compose driver)."""
    return docker.DockerClient(base_url=f"unix://{socket}", timeout=20) if socket else docker.from_env(timeout=10)


def _where(spec: Any) -> dict[str, str]:
    """The profile's `where` (tier -> names) as name -> tier; each tier must have hosts."""
    unknown = [tier for tier in spec.where if not spec.hosts.get(tier)]
    if unknown:
        raise TargetError(f"target.where names the tier '{unknown[0]}', which target.hosts does not list")
    return {name: tier for tier, names in spec.where.items() for name in names}


def _host_holding(spec: Any, where: dict[str, str], name: str) -> str:
    return spec.hosts[where[name]][0] if name in where else spec.host


def _listening(host: Any, label: str) -> set[tuple[str, int]]:
    try:
        listing = host.run("ss -Hltn")
    except Exception as error:  # testinfra raises its backend's own errors for an unreachable host
        raise TargetError(f"{label}: cannot run commands on the host ({_reason(error)}); check "
                          "target.host, target.hosts and target.ssh_config") from None
    if listing.rc != 0:
        raise TargetError(f"{label}: `ss -Hltn` failed on the host; it needs iproute2")
    listening = set()
    for line in listing.stdout.splitlines():
        local = line.split()[3] if len(line.split()) > 3 else ""
        address, _, port = local.rpartition(":")
        if port.isdigit():
            listening.add((address.strip("[]").replace("*", "0.0.0.0"), int(port)))
    return listening


def _reason(error: Exception) -> str:
    """The last line the failed command wrote (testinfra's SSH backend raises with the command's result)."""
    detail = error.args[0] if error.args else error
    text = str(getattr(detail, "stderr", None) or detail).strip()
    return (text.splitlines() or ["no answer"])[-1][:160]


def _observed(host_spec: str, spec: Any, where: dict[str, str], ssh_config: str | None) -> Inventory:
    """The profile's services as their hosts show them (what listens; where the proxy's loaded upstream points).
    A service on another tier's hosts (`where`) is named by each host's address, as the tier in front reaches it,
    and runs when every one of them listens."""
    host = testinfra.get_host(host_spec, sudo=spec.sudo)
    listening = _listening(host, spec.host)
    declared = {n: s.model_dump() for n, s in spec.services.items()}
    for tier in sorted(set(where.values())):
        specs = spec.hosts[tier]
        on_tier = [n for n, t in where.items() if t == tier and n in declared]
        addresses = []
        for url in specs:
            address = urlparse(url).hostname or ""
            connect = with_ssh_config(url, ssh_config)
            seen = _listening(testinfra.get_host(connect, sudo=spec.sudo), url)
            listening |= {(address, p) for a, p in seen if a in ("0.0.0.0", address)}
            addresses.append(address)
        for name in on_tier:
            ports = [int(a.rsplit(":", 1)[1]) for a in declared[name].get("listen", [])]
            declared[name]["listen"] = [f"{address}:{port}" for address in addresses for port in dict.fromkeys(ports)]
    upstream: set[tuple[str, int]] = set()
    proxy = spec.services.get("proxy")
    if proxy and proxy.config:
        loaded = host.run(f"nginx -T -q -c {proxy.config}")
        for match in re.finditer(r"^\s*server\s+([\w.\-]+):(\d+)[^;]*;", loaded.stdout, re.M):
            upstream.add((match.group(1), int(match.group(2))))
    return Inventory.observed(declared, listening, upstream)


def _no_target(profile: Profile) -> TargetError:
    return TargetError(f"specs/environments/{profile.name}.yaml names no target: fill in target.host, "
                       "target.base_url and the rest of its target section (the comments show each key)")


def with_ssh_config(spec: str, ssh_config: str | None) -> str:
    """An ssh:// spec with the profile's OpenSSH client settings (beside a key the spec names itself)."""
    if not ssh_config or not spec.startswith("ssh://") or "ssh_config=" in spec:
        return spec
    return f"{spec}{'&' if '?' in spec else '?'}ssh_config={ssh_config}"


def _in_repository(given: str, repo: Path) -> Path:
    path = Path(os.path.expanduser(given))
    return path if path.is_absolute() else repo / path


def _ssh_config(given: str, repo: Path, env: str) -> str:
    path = _in_repository(given, repo)
    if not path.is_file():
        raise TargetError(f"specs/environments/{env}.yaml: target.ssh_config: {path} does not exist "
                          "(for the lab server: ./deploy.sh lab up)")
    return str(path)


def _through(host: str, ssh_config: str | None, what: str, service: dict[str, Any], key: str) -> dict[str, Any]:
    """A service on the server's loopback, reached through an SSH tunnel: its address becomes the tunnel's end."""
    if not host.startswith("ssh://"):
        raise TargetError(f"{key}.through: ssh needs an ssh:// target.host")
    if "host" not in service or "port" not in service:
        raise TargetError(f"{key}: give host and port as the server sees them (as 127.0.0.1 and {what}'s port)")
    tunnel = tunnels.open_tunnel(host, ssh_config, what, str(service["host"]), int(service["port"]),
                                 service.get("local_port"), key=key)
    return {**{k: v for k, v in service.items() if k not in ("through", "local_port")},
            "host": "127.0.0.1", "port": tunnel.local_port, "on_server": tunnel.remote}


def preflight(target: Target) -> None:
    """Refuse a target that is not there or whose credentials are wrong (one line, before any check). A profile
    that names no database or no cache is not refused: the checks that need one report an error naming the key."""
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    try:
        target.http().get(f"{target.base_url}/", timeout=5, verify=False)
    except requests.RequestException as error:
        raise TargetError(f"{target.base_url} is unreachable ({request_failure(error)}); is the stack up?") from None
    if "host" in target.database:
        _preflight_database(target)
    if "host" in target.cache:
        _preflight_cache(target)


def _preflight_database(target: Target) -> None:
    try:
        target.connect_db().close()
    except ProbeError as error:
        if "password authentication failed" in str(error):
            raise TargetError(f"the database refused the password for {target.database['user']}; "
                              "check the secrets") from None
        raise TargetError(f"{error}; check target.database in the profile") from None


def _preflight_cache(target: Target) -> None:
    try:
        target.redis().ping()
    except redis.AuthenticationError as error:
        if "without any password configured" not in str(error):  # an open cache is APP-05's finding
            raise TargetError("the cache refused the password; check the secrets") from None
    except redis.RedisError:
        pass  # the cache being down is a finding of APP-03/APP-05, not a reason to stop

"""How a fault reaches the running stack: through its real surfaces (config files and reloads,
SQL, file modes, Redis CONFIG, process signals, deploy.sh), and how each is undone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests
import yaml
from psycopg import sql

from tests.helpers import REPO, deploy, status


class Stack:
    """The running development stack, as the faults see it."""

    def __init__(self) -> None:
        self.status = status()
        self.paths = {k: Path(v) for k, v in self.status["paths"].items()}
        self.secrets = json.loads(self.paths["secrets"].read_text())
        self.run = self.paths["secrets"].parent

    def superuser(self, dbname: str | None = None) -> psycopg.Connection:
        db = self.status["database"]
        return psycopg.connect(host=db["host"], port=db["port"], dbname=dbname or db["name"], user="postgres",
                               password=self.secrets["postgres_password"], autocommit=True)

    def redis(self) -> redis.Redis:
        cache = self.status["cache"]
        return redis.Redis(host=cache["host"], port=cache["port"], password=self.secrets["redis_password"])

    def nginx(self, signal_name: str = "reload") -> None:
        conf = self.status["services"]["proxy"]["config"]
        subprocess.run(["runuser", "-u", "edupro", "--", "nginx", "-s", signal_name, "-c", conf], check=True,
                       capture_output=True)

    def postgres(self, action: str) -> None:
        """pg_ctl reload or restart; a restarted server logs to its usual file, not to our pipes."""
        data = self.status["services"]["database"]["data_directory"]
        log = self.paths["logs"] / "postgres.log"
        subprocess.run(["runuser", "-u", "edupro", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", data, "-w",
                        "-l", str(log), action], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)

    def prometheus_reload(self) -> None:
        requests.post(f"{self.status['prometheus_url']}/-/reload", timeout=10)

    def wait_for_targets(self, done: Callable[[list[str]], bool], seconds: float = 30) -> None:
        """Until the health Prometheus reports for its targets satisfies DONE (it scrapes every 5 s)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            targets = requests.get(f"{self.status['prometheus_url']}/api/v1/targets", timeout=5).json()
            if done([t["health"] for t in targets["data"]["activeTargets"]]):
                return
            time.sleep(0.5)
        raise AssertionError("Prometheus did not reach the expected target health in time")

    def idle_colour(self, action: str) -> None:
        """Start or stop the idle colour's backends with the stack's own code (what a release would do)."""
        now = status()  # not the status read when the fault began: a scenario may have released meanwhile
        idle = "green" if now["live_colour"] == "blue" else "blue"
        code = (f"from edupro_stack.config import load; from edupro_stack.layout import Layout; "
                f"from edupro_stack.services import backend; layout = Layout.default(); "
                f"cfg = load(layout, {now['env']!r}); "
                f"backend.{action}(cfg, layout, {idle!r}" + (f", {now['version']!r})" if action == "start" else ")"))
        subprocess.run([str(REPO / ".venv/bin/python"), "-c", code], check=True, capture_output=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": f"{REPO}/stack/ops:{REPO}/stack/backend"})

    def restart_live_by_hand(self, jwt_secret: str | None) -> None:
        """Restart the live colour's backends outside deploy.sh, with JWT_SECRET instead of the declared token key
        (as an operator might), or with the declared configuration again (None)."""
        now = status()
        live = now["live_colour"]
        version = now["services"][f"backend_{live}"].get("version") or now["version"]
        swap = (f"cfg = cfg.model_copy(update={{'secrets': cfg.secrets.model_copy(update={{'jwt_secret': {jwt_secret!r}}})}}); "
                if jwt_secret else "")
        code = (f"from edupro_stack.config import load; from edupro_stack.layout import Layout; "
                f"from edupro_stack.services import backend; layout = Layout.default(); "
                f"cfg = load(layout, {now['env']!r}); {swap}"
                f"backend.stop(cfg, layout, {live!r}); backend.start(cfg, layout, {live!r}, {version!r})")
        subprocess.run([str(REPO / ".venv/bin/python"), "-c", code], check=True, capture_output=True, timeout=180,
                       env={**os.environ, "PYTHONPATH": f"{REPO}/stack/ops:{REPO}/stack/backend"})

    def app_role_password(self, password: str | None) -> None:
        """Set the application role's password to PASSWORD, or back to the declared one (None)."""
        role = self.status["database"]["app_role"]
        with self.superuser() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password or self.secrets["app_password"])))

    def run_command(self, *command: str) -> None:
        subprocess.run(list(command), check=True, capture_output=True, timeout=300,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})

    def release_same_version(self) -> None:
        result = deploy("release", self.status["version"])
        assert result.returncode == 0, f"release failed: {result.stderr.strip()[-300:]}"

    def backup(self) -> None:
        result = deploy("backup")
        assert result.returncode == 0, f"backup failed: {result.stderr.strip()[-300:]}"

    def up(self) -> None:
        result = deploy("up")
        assert result.returncode == 0, f"up failed: {result.stderr.strip()[-300:]}"


Action = Callable[[Stack], None]


def nothing(stack: Stack) -> None:
    pass


@dataclass
class Surface:
    """One way of breaking the stack; `undo` must restore exactly what `apply` changed."""

    def apply(self, stack: Stack) -> None:
        raise NotImplementedError

    def undo(self, stack: Stack) -> None:
        raise NotImplementedError

    def suite_args(self) -> list[str]:
        """Options the suite needs while the fault is applied (none for a fault of the stack itself)."""
        return []


@dataclass
class EditFile(Surface):
    """Replace text in a file of the stack, then run an action (a reload)."""
    path: Callable[[Stack], Path]
    old: str
    new: str | Callable[[Stack], str]
    then: Action = nothing
    _saved: bytes = field(default=b"", repr=False)

    def apply(self, stack: Stack) -> None:
        target = self.path(stack)
        self._saved = target.read_bytes()
        text = self._saved.decode()
        assert self.old in text, f"{target} does not contain {self.old!r}"
        target.write_text(text.replace(self.old, self.new if isinstance(self.new, str) else self.new(stack)))
        self.then(stack)

    def undo(self, stack: Stack) -> None:
        if self._saved:
            self.path(stack).write_bytes(self._saved)
            self._saved = b""
        self.then(stack)


@dataclass
class WriteFile(Surface):
    """Create or overwrite a file; undo restores the old content or removes it."""
    path: Callable[[Stack], Path]
    content: Callable[[Stack], bytes]
    then: Action = nothing
    _saved: bytes | None = field(default=None, repr=False)
    _target: Path | None = field(default=None, repr=False)

    def apply(self, stack: Stack) -> None:
        self._target = target = self.path(stack)  # resolved once: a name may depend on the clock
        self._saved = target.read_bytes() if target.exists() else None
        target.write_bytes(self.content(stack))
        self.then(stack)

    def undo(self, stack: Stack) -> None:
        target = self._target or self.path(stack)
        if self._saved is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(self._saved)
        self.then(stack)


@dataclass
class ChangeMode(Surface):
    path: Callable[[Stack], Path]
    mode: int
    _saved: int = 0

    def apply(self, stack: Stack) -> None:
        target = self.path(stack)
        self._saved = target.stat().st_mode & 0o7777
        target.chmod(self.mode)

    def undo(self, stack: Stack) -> None:
        self.path(stack).chmod(self._saved)


@dataclass
class Sql(Surface):
    """Statements run as the PostgreSQL superuser, then an optional reload or restart."""
    forward: str
    backward: str
    then: Action = nothing

    def apply(self, stack: Stack) -> None:
        with stack.superuser() as conn:
            for statement in self.forward.split(";\n"):
                conn.execute(statement)
        self.then(stack)

    def undo(self, stack: Stack) -> None:
        with stack.superuser() as conn:
            for statement in self.backward.split(";\n"):
                conn.execute(statement)
        self.then(stack)


@dataclass
class RedisConfig(Surface):
    key: str
    value: str
    _saved: str = ""

    def apply(self, stack: Stack) -> None:
        client = stack.redis()
        self._saved = client.config_get(self.key)[self.key]
        client.config_set(self.key, self.value)

    def undo(self, stack: Stack) -> None:
        if self.key == "requirepass":
            redis.Redis(host=stack.status["cache"]["host"], port=stack.status["cache"]["port"]).config_set(
                self.key, stack.secrets["redis_password"])
        else:
            stack.redis().config_set(self.key, self._saved)


@dataclass
class StackConfig(Surface):
    """Edit stack/config (base.yaml) and release the same version, so the backend restarts with it."""
    keys: tuple[str, ...]
    value: Any
    file: str = "base.yaml"
    _saved: bytes = field(default=b"", repr=False)

    def apply(self, stack: Stack) -> None:
        path = REPO / "stack" / "config" / self.file
        self._saved = path.read_bytes()
        data = yaml.safe_load(self._saved) or {}
        node = data
        for key in self.keys[:-1]:
            node = node.setdefault(key, {})
        node[self.keys[-1]] = self.value
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        stack.release_same_version()

    def undo(self, stack: Stack) -> None:
        if self._saved:
            (REPO / "stack" / "config" / self.file).write_bytes(self._saved)
            self._saved = b""
        stack.release_same_version()


@dataclass
class StopProcess(Surface):
    """SIGTERM a service by its pid file; `deploy.sh up` (idempotent) brings it back."""
    pid_file: Callable[[Stack], Path]
    seen_by_prometheus: bool = True  # False when the process stopped is Prometheus itself

    def apply(self, stack: Stack) -> None:
        pid = int(self.pid_file(stack).read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if self.seen_by_prometheus:
            stack.wait_for_targets(lambda health: "down" in health)  # the fault is "a target Prometheus sees down"

    def undo(self, stack: Stack) -> None:
        stack.up()
        stack.wait_for_targets(lambda health: set(health) == {"up"})


@dataclass
class Occupy(Surface):
    """Hold a TCP port so a service cannot bind it."""
    port: Callable[[Stack], int]
    _process: subprocess.Popen | None = None  # type: ignore[type-arg]

    def apply(self, stack: Stack) -> None:
        self._process = subprocess.Popen(["python3", "-c", f"import socket,time; s=socket.create_server(('127.0.0.1',{self.port(stack)})); time.sleep(600)"])
        time.sleep(0.5)

    def undo(self, stack: Stack) -> None:
        if self._process:
            self._process.kill()
            self._process.wait()


@dataclass
class Steps(Surface):
    """Two actions on the stack: one breaks it, the other puts it back (a restart, a package removal)."""
    forward: Action
    backward: Action

    def apply(self, stack: Stack) -> None:
        self.forward(stack)

    def undo(self, stack: Stack) -> None:
        self.backward(stack)


@dataclass
class Together(Surface):
    """Several surfaces applied in order and undone in reverse."""
    parts: tuple[Surface, ...]
    then: Action = nothing

    def apply(self, stack: Stack) -> None:
        for part in self.parts:
            part.apply(stack)
        self.then(stack)

    def undo(self, stack: Stack) -> None:
        for part in reversed(self.parts):
            part.undo(stack)
        self.then(stack)


@dataclass
class Thresholds(Surface):
    """For checks whose subject no test can break (the host's cores, memory and disk, the installed
    versions, the model's accuracy): a copy of specs/ asks more than this machine has, so the check is
    seen red against the same live measurement it passes with the shipped thresholds."""
    overrides: dict[str, dict[str, Any]]
    env: str = "development"
    _dir: Path | None = None

    def apply(self, stack: Stack) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="edupro-fault-specs-"))
        shutil.copytree(REPO / "specs", self._dir / "specs")
        profile = self._dir / "specs" / "environments" / f"{self.env}.yaml"
        data = yaml.safe_load(profile.read_text())
        thresholds = data.setdefault("thresholds", {})
        for rid, values in self.overrides.items():
            thresholds[rid] = {**thresholds.get(rid, {}), "reason": "fault injection: more than this machine has",
                               **values}
        profile.write_text(yaml.safe_dump(data, sort_keys=False))

    def undo(self, stack: Stack) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def suite_args(self) -> list[str]:
        return [f"--specs={self._dir / 'specs'}"] if self._dir else []

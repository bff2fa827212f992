"""The verbs of deploy.sh for the local driver: up, down, status, release, rollback."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import backup, history, tls
from .config import StackConfig, database_url, load, load_deployed, record_deployed
from .layout import Layout
from .processes import StackError, give, one_at_a_time, pid_of, port_open, require_free, run, stop_daemons, which
from .services import backend, nginx, postgres, prometheus, redis

DRIVER = "local"


@dataclass
class State:
    env: str
    live_colour: str = "blue"
    versions: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str] | None = None

    @classmethod
    def read(cls, layout: Layout) -> "State | None":
        if not layout.state_file.exists():
            return None
        return cls(**json.loads(layout.state_file.read_text()))

    def write(self, layout: Layout) -> None:
        layout.state_file.write_text(json.dumps(asdict(self), indent=2))

    @property
    def live_version(self) -> str:
        return self.versions.get(self.live_colour, "")


def _prepare_run_dir(layout: Layout) -> None:
    for folder in (layout.run, layout.logs, layout.pids):
        folder.mkdir(parents=True, exist_ok=True)
    layout.run.chmod(0o755)
    give(layout.logs)


def ensure_model(layout: Layout) -> None:
    """Trained reproducibly at first start; then read-only, as a read-only mount would be (APP-07)."""
    card = layout.models / "model_card.json"
    if (layout.models / "model.joblib").exists() and card.exists() and "model_sha256" in json.loads(card.read_text()):
        return  # (a card without the digest of its model file is from before ML-01 checked it: trained again)
    layout.models.mkdir(parents=True, exist_ok=True)
    layout.models.chmod(0o755)
    run([str(layout.python), str(layout.repo / "stack" / "ml" / "train.py"), "--out", str(layout.models)],
        what="model training")
    for item in layout.models.iterdir():
        item.chmod(0o444)
    layout.models.chmod(0o555)


def ensure_frontend(layout: Layout) -> None:
    folder = layout.repo / "stack" / "frontend"
    with one_at_a_time(folder / ".build.lock"):
        if (layout.frontend / "index.html").exists():
            return
        npm = which("npm")
        run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(folder)], what="npm ci")
        run([npm, "run", "build", "--prefix", str(folder)], what="frontend build")


def _migration_env(cfg: StackConfig, layout: Layout) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(layout.repo / "stack" / "backend"),
            "EDUPRO_MIGRATION_URL": database_url(cfg, postgres.OWNER, cfg.secrets.owner_password),
            "EDUPRO_APP_ROLE": postgres.APP, "EDUPRO_DATABASE_SSLMODE": "prefer"}


def migrate(cfg: StackConfig, layout: Layout, target: str = "head") -> None:
    alembic_ini = layout.repo / "stack" / "backend" / "alembic.ini"
    verb = "downgrade" if target.startswith("-") else "upgrade"
    run([str(layout.python), "-m", "alembic", "-c", str(alembic_ini), verb, target],
        env=_migration_env(cfg, layout), what=f"alembic {verb} {target}")


def run_migration(cfg: StackConfig, layout: Layout, driver: str = DRIVER,
                  archive_cleanup: list[str] | None = None) -> None:
    """The paper's migration procedure (§2.5.1), recorded with each phase's timing (DB-07)."""
    with history.deployment(layout, "migration", cfg.environment, driver=driver) as record:
        phases: list[dict[str, Any]] = []
        record["phases"] = phases

        def timed(name: str, action: Any) -> None:
            started = time.monotonic()
            action()
            phases.append({"phase": name, "seconds": round(time.monotonic() - started, 2)})

        if postgres.has_schema(cfg):
            timed("backup", lambda: backup.take(cfg, layout, archive_cleanup=archive_cleanup))
        timed("migrate", lambda: migrate(cfg, layout))
        timed("load", lambda: seed(cfg, layout))
        timed("optimise", lambda: postgres.analyze_and_archive(cfg))
        record["revision"] = postgres.revision(cfg)
        record["rollback_required"] = False


# Development and staging (a rehearsal of production on the public data set) get one account per role, whose
# credentials the operator hands to QA (deploy.sh qa-secrets); production gets none, only the school's own.
WITH_TEST_ACCOUNTS = ("development", "staging")


def seed(cfg: StackConfig, layout: Layout) -> None:
    env = {**backend.process_environment(cfg, layout, "seed", cfg.application.version)}
    command = [str(layout.python), "-m", "edupro_api.seed", "--csv", str(layout.repo / "stack" / "data" / "student-mat.csv")]
    if cfg.environment in WITH_TEST_ACCOUNTS:
        command += ["--demo-accounts", str(layout.demo_accounts)]
    else:  # production: the school's own teachers and administrator (SEC-02 examines their stored passwords)
        command += ["--school-accounts"]
    run(command, env=env, what="loading students")
    layout.backend_env("seed").unlink(missing_ok=True)


# On a server deployed over SSH, the stack's command (the current release's deploy verbs, run as root).
SERVER_COMMAND = Path("/usr/local/bin/edupro-stack")
SYSTEM_CRON = Path("/etc/cron.d/edupro-backup")
SYSTEM_LOGROTATE = Path("/etc/logrotate.d/edupro")
SYSTEM_SUPERVISION = Path("/etc/cron.d/edupro-supervise")


def operations_files(cfg: StackConfig, layout: Layout) -> tuple[Path, Path]:
    """Where the backup schedule and the log rotation are: installed into the host, or kept in the run directory."""
    if cfg.operations.install == "system":
        return SYSTEM_CRON, SYSTEM_LOGROTATE
    return layout.run / "cron.d" / "edupro-backup", layout.run / "logrotate.conf"


def write_operations_files(cfg: StackConfig, layout: Layout, driver: str = "local") -> None:
    """The daily backup schedule (OPS-04) and log rotation, daily, kept 30 days (OPS-05)."""
    schedule, rotation = operations_files(cfg, layout)
    if not cfg.tiers.runs("data"):  # the backups are the data tier's
        schedule = None
    if cfg.operations.install == "system":
        command = f"{SERVER_COMMAND} backup --env {cfg.environment} --scheduled"
        header = "# Daily EduPro database backup (installed by deploy.sh; cron reads /etc/cron.d)"
    else:
        command = f"{layout.repo / 'deploy.sh'} backup --driver {driver} --env {cfg.environment} --scheduled"
        header = "# Daily EduPro database backup (install into /etc/cron.d on a real host)"
    layout.logs.mkdir(parents=True, exist_ok=True)
    entry = (f"{header}\nSHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
             f"15 2 * * * root {command} >> {layout.logs}/backup-cron.log 2>&1\n")
    if schedule is not None:
        schedule.parent.mkdir(parents=True, exist_ok=True)
        if not schedule.exists() or schedule.read_text() != entry:  # its time says since when it holds (OPS-04)
            schedule.write_text(entry)
        schedule.chmod(0o644)
    rotation.write_text(
        f"{layout.logs}/*.log {{\n    {cfg.logging.rotation}\n    rotate {cfg.logging.retention_days}\n"
        "    missingok\n    notifempty\n    compress\n    delaycompress\n    copytruncate\n    dateext\n}\n")
    rotation.chmod(0o644)
    if cfg.operations.install == "system" and driver == "local":  # processes on a server: cron restarts what
        # stops, each minute (containers: Docker, by their restart policy)
        SYSTEM_SUPERVISION.write_text(
            "# EduPro's services restarted when one has stopped (installed by deploy.sh; `down` pauses it)\n"
            f"SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
            f"* * * * * root {SERVER_COMMAND} supervise >> {layout.logs}/supervise.log 2>&1\n")
        SYSTEM_SUPERVISION.chmod(0o644)


def stack_paths(layout: Layout, env: str, cfg: StackConfig | None = None) -> dict[str, str]:
    """Where a stack's files are, for status --json and the suite (the same for both drivers: each has its run
    directory)."""
    schedule, rotation = operations_files(cfg or load_deployed(layout, env), layout)
    paths = {"certificate": layout.certificate, "private_key": layout.private_key, "logs": layout.logs,
             "backups": layout.dumps, "wal_archive": layout.wal_archive,
             "base_backups": layout.base_backups, "backup_log": layout.backups / "scheduled.log", "secrets": layout.secrets_file(env),
             "models": layout.models, "api_descriptions": layout.api_descriptions, "deployment_history": layout.history, "deployment_log": layout.deployment_log,
             "backup_schedule": schedule, "logrotate": rotation,
             "alert_rules": layout.repo / "stack" / "monitoring" / "alerts.yml",
             "dashboards": layout.repo / "stack" / "monitoring" / "grafana" / "dashboards",
             "migrations": layout.repo / "stack" / "backend" / "alembic.ini", "repository": layout.repo}
    if env in WITH_TEST_ACCOUNTS:
        paths["demo_accounts"] = layout.demo_accounts
    return {k: str(v) for k, v in paths.items()}


def up(env: str, layout: Layout) -> State:
    _prepare_run_dir(layout)
    layout.stopped_on_purpose.unlink(missing_ok=True)
    cfg = load(layout, env)
    state = State.read(layout)
    if state and state.env != env and backend.running(cfg, layout, state.live_colour):
        raise StackError(f"the stack is running as '{state.env}'; run ./deploy.sh down first, then up --env {env}")
    state = state if state and state.env == env else State(env=env, versions={"blue": cfg.application.version})
    was_running = pid_of(nginx.NAME, layout.nginx) is not None
    try:
        _bring_up(cfg, layout, state)
    except StackError:
        if not was_running:  # nothing is left half-started; a running stack is left as it was
            down(layout)
        raise
    return state


def _bring_up(cfg: StackConfig, layout: Layout, state: State) -> None:
    """The services of this host's tier (all of them on one server), the tier behind first."""
    env, tiers = cfg.environment, cfg.tiers
    with history.deployment(layout, "up", env, driver=DRIVER, version=state.live_version):
        if tiers.runs("web") and not pid_of(nginx.NAME, layout.nginx):
            require_free(cfg.proxy.listen, cfg.proxy.https_port, "nginx")
            require_free(cfg.proxy.listen, cfg.proxy.http_port, "nginx")
        tls.ensure_certificate(cfg, layout)  # the proxy's, and the database's (TLS between tiers)
        fresh = False
        if tiers.runs("data"):
            postgres.init(cfg, layout)
            postgres.configure(cfg, layout)
            postgres.start(cfg, layout)
            postgres.bootstrap(cfg)
            redis.start(cfg, layout)
            fresh = not postgres.has_schema(cfg)
            run_migration(cfg, layout)
        if tiers.runs("app"):
            ensure_model(layout)
            ensure_frontend(layout)
            backend.start(cfg, layout, state.live_colour, state.live_version)
            if tiers.role == "app":
                nginx.start_frontend(cfg, layout)
        if tiers.runs("web"):
            live = backend.addresses(cfg, state.live_colour)
            nginx.write(cfg, layout, live)
            nginx.start(cfg, layout)
            prometheus.write(cfg, layout, live)
            prometheus.start(cfg, layout)
        else:  # every server's host metrics, for the web server's Prometheus (MON-01)
            prometheus.start_node_exporter(cfg, layout)
        write_operations_files(cfg, layout)
        if tiers.runs("data") and (fresh or not any(layout.dumps.glob("edupro_backup_*.sql"))):
            backup.take(cfg, layout)  # a new database's first backup: older ones in the folder are of another
        record_deployed(cfg, layout)
        state.write(layout)


def supervise(layout: Layout) -> list[str]:
    """Start again, one by one, the services that have stopped; what runs is left alone.

    Nothing while the stack is down on purpose or was never deployed; the idle colour stays stopped.
    """
    state = State.read(layout)
    if state is None or layout.stopped_on_purpose.exists():
        return []
    cfg = load_deployed(layout, state.env)
    live = state.live_colour
    starts: dict[str, Callable[[], None]] = {  # in dependency order: the API needs the database and the cache
        "database": lambda: postgres.start(cfg, layout),
        "cache": lambda: redis.start(cfg, layout),
        f"backend_{live}": lambda: backend.start(cfg, layout, live, state.live_version),
        "frontend": lambda: nginx.start_frontend(cfg, layout),
        "proxy": lambda: nginx.start(cfg, layout),
        "monitoring": lambda: prometheus.start(cfg, layout),
        "node_exporter": lambda: prometheus.start_node_exporter(cfg, layout),
    }
    services = status(layout)["services"]
    restarted = []
    for name, start in starts.items():
        if name == "frontend" and cfg.tiers.role != "app":
            continue  # served by the proxy itself where the proxy runs beside the backends
        if name in services and services[name]["state"] != "running":
            start()
            restarted.append(name)
    return restarted


def down(layout: Layout) -> None:
    state = State.read(layout)
    env = state.env if state else "development"
    layout.run.mkdir(parents=True, exist_ok=True)
    layout.stopped_on_purpose.touch()  # supervision leaves a stack that was brought down alone
    with history.deployment(layout, "down", env, driver=DRIVER):
        cfg = load_deployed(layout, env)
        nginx.stop(layout)  # no new requests; then the backends finish theirs while monitoring stops beside them
        nginx.stop_frontend(layout)
        stop_daemons([*prometheus.DAEMONS, *(backend.instance_name(colour, index) for colour in backend.COLOURS
                                             for index in range(len(backend.ports(cfg, colour))))], layout.pids, 25)
        redis.stop(layout)
        postgres.stop(layout)


def switch_plan(state: State, version: str | None) -> tuple[str, str, str]:
    """A blue-green switch's live colour, the idle one it goes to, and the version that goes there (for a
    rollback, the previous release's)."""
    new = backend.other(state.live_colour)
    if version is None:
        if not state.previous:
            raise StackError("nothing to roll back to: no earlier release is recorded")
        version = str(state.previous["version"])
    return state.live_colour, new, version


def drain_old_nginx_workers(seconds: float = 15) -> None:
    """After a graceful reload, wait until the old workers have finished their requests."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        titles = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        if "worker process is shutting down" not in titles:
            return
        time.sleep(0.1)


# The steps of a release across servers of their own (deploy.sh runs them in this order): each application server
# starts the idle colour beside the live one; the web server switches its upstream to it; each application server
# then records the switch and stops the old colour.
TIER_STEPS = ("start", "switch")
STEPS_OF = {"all": (None,), "app": ("start", "switch"), "web": ("switch",), "data": ()}


def switch(layout: Layout, version: str | None, action: str, step: str | None = None) -> State:
    """Start the idle colour (on VERSION, or the previous one for a rollback), switch, stop the old; on a tier's
    server, the STEP of it that belongs there."""
    state = State.read(layout)
    if state is None:
        raise StackError("the stack is not up; run ./deploy.sh up first")
    cfg = load(layout, state.env)
    if step not in STEPS_OF[cfg.tiers.role]:  # one tier switching alone would start backends where none belong
        raise StackError(f"this server runs the {cfg.tiers.role} tier: a {action} is run across the tiers by "
                         f"deploy.sh ({action} --env {state.env}); nothing was changed")
    old, new, version = switch_plan(state, version)
    if step == "start":  # the idle colour beside the live one; nothing switches yet
        backend.stop(cfg, layout, new)
        backend.start(cfg, layout, new, version)
        return state
    with history.deployment(layout, action, state.env, driver=DRIVER, version=version, colour=new):
        if step is None:
            backend.stop(cfg, layout, new)
            backend.start(cfg, layout, new, version)
        if cfg.tiers.runs("web"):
            nginx.switch(cfg, layout, backend.addresses(cfg, new))
            prometheus.set_backend_targets(layout, backend.addresses(cfg, new))
            prometheus.wait_for_backend_targets(f"http://127.0.0.1:{cfg.monitoring.prometheus_port}",
                                                backend.addresses(cfg, new))
            drain_old_nginx_workers()
        state.previous = {"colour": old, "version": state.live_version}
        state.versions[new] = version
        state.live_colour = new
        state.write(layout)
        record_deployed(cfg, layout)
        if cfg.tiers.runs("app"):
            backend.stop(cfg, layout, old)
    return state


def is_up(layout: Layout) -> bool:
    return pid_of(nginx.NAME, layout.nginx) is not None


# Which tier runs each service when the tiers have servers of their own (the paper's three-tier network).
TIER_OF = {"proxy": "web", "monitoring": "web", "node_exporter": "every", "frontend": "app", "backend_blue": "app",
           "backend_green": "app", "database": "data", "cache": "data"}


def status(layout: Layout) -> dict[str, Any]:
    state = State.read(layout)
    env = state.env if state else "development"
    cfg = load_deployed(layout, env)
    live = state.live_colour if state else None

    def svc(up: bool, address: str, **extra: Any) -> dict[str, Any]:
        return {"state": "running" if up else "stopped", "address": address, **extra}

    services = {
        "proxy": svc(pid_of(nginx.NAME, layout.nginx) is not None, f"{cfg.proxy.listen}:{cfg.proxy.https_port}",
                     http=f"{cfg.proxy.listen}:{cfg.proxy.http_port}", config=str(nginx.conf_path(layout))),
        "database": svc(port_open(cfg.database.host, cfg.database.port), f"{cfg.database.host}:{cfg.database.port}",
                        name=cfg.database.name, data_directory=str(layout.pgdata)),
        "cache": svc(pid_of(redis.NAME, layout.pids) is not None, f"{cfg.cache.host}:{cfg.cache.port}",
                     config=str(layout.redis / "redis.conf")),
        "monitoring": svc(pid_of("prometheus", layout.pids) is not None,
                          f"127.0.0.1:{cfg.monitoring.prometheus_port}"),
        "node_exporter": svc(pid_of("node-exporter", layout.pids) is not None, prometheus.exporter_address(cfg)),
        "frontend": svc((layout.frontend / "index.html").exists() and pid_of(nginx.NAME, layout.nginx) is not None,
                        f"{cfg.proxy.listen}:{cfg.proxy.https_port}", root=str(layout.frontend)),
    }
    if cfg.tiers.role == "app":  # the files on the tier's own port, for the web tier's proxy
        services["frontend"] = svc(nginx.frontend_running(layout), f"0.0.0.0:{cfg.tiers.frontend_port}",
                                   root=str(layout.frontend), config=str(nginx.frontend_conf(layout)))
    listen = backend.listen_address(cfg)
    for colour in backend.COLOURS:
        ports = backend.ports(cfg, colour)
        services[f"backend_{colour}"] = svc(backend.running(cfg, layout, colour),
                                            ",".join(f"{listen}:{p}" for p in ports),
                                            live=colour == live, healthcheck=cfg.api.healthcheck.model_dump(),
                                            version=state.versions.get(colour) if state else None)
    if cfg.tiers.role != "all":
        services = {name: s for name, s in services.items() if TIER_OF[name] in (cfg.tiers.role, "every")}
    return {
        "tier": cfg.tiers.role,
        "driver": DRIVER, "env": env, "base_url": f"https://127.0.0.1:{cfg.proxy.https_port}",
        "http_url": f"http://127.0.0.1:{cfg.proxy.http_port}", "server_name": cfg.proxy.server_name,
        "live_colour": live, "version": state.live_version if state else None, "services": services,
        "prometheus_url": f"http://127.0.0.1:{cfg.monitoring.prometheus_port}",
        "database": {"host": cfg.database.host, "port": cfg.database.port, "name": cfg.database.name,
                     "owner_role": postgres.OWNER, "app_role": postgres.APP},
        "cache": {"host": cfg.cache.host, "port": cfg.cache.port},
        "paths": stack_paths(layout, env, cfg),
    }


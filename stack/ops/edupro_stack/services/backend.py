"""The EduPro API: uvicorn instances per colour (blue, green) behind nginx."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import requests

from ..config import StackConfig, backend_environment, write_env_file
from ..layout import Layout
from ..processes import StackError, give, pid_of, require_free, start_daemon, stop_daemons

COLOURS = ("blue", "green")


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"


def ports(cfg: StackConfig, colour: str) -> list[int]:
    return cfg.api.ports[colour][: cfg.api.instances_per_colour]  # type: ignore[index]


def addresses(cfg: StackConfig, colour: str) -> list[str]:
    """Where the colour's instances answer, as the proxy reaches them: this host's loopback, or on the web tier of
    a three-tier network every application server's."""
    hosts = cfg.tiers.app if cfg.tiers.role == "web" else ["127.0.0.1"]
    return [f"{host}:{port}" for host in hosts for port in ports(cfg, colour)]


def listen_address(cfg: StackConfig) -> str:
    """Loopback on a host that runs the proxy too; every address on an application server (its firewall admits
    the web tier alone)."""
    return "0.0.0.0" if cfg.tiers.role == "app" else "127.0.0.1"


def instance(cfg: StackConfig, name: str) -> str:
    """What an instance answers /version with: its name, and on an application server of several the server's."""
    return f"{name}@{socket.gethostname()}" if cfg.tiers.role == "app" else name


def instance_name(colour: str, index: int) -> str:
    return f"backend-{colour}-{index + 1}"


def process_environment(cfg: StackConfig, layout: Layout, colour: str, version: str) -> dict[str, str]:
    values = backend_environment(cfg, layout, colour, version)
    write_env_file(layout.backend_env(colour), values)
    give(layout.backend_env(colour), 0o600)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC",
            "PYTHONPATH": str(layout.repo / "stack" / "backend"), "HOME": str(layout.run),
            "EDUPRO_OPENAPI_DIR": str(layout.api_descriptions), **values}


def log_config(cfg: StackConfig, layout: Layout) -> Path:
    """uvicorn's own logging as JSON lines (OPS-05): with several workers its parent process, which never imports
    the application, writes its start and stop lines before any worker configures logging."""
    config = {"version": 1, "disable_existing_loggers": False,
              "formatters": {"json": {"()": "edupro_api.logs.JsonLines"}},
              "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
              "loggers": {name: {"handlers": ["stdout"], "level": cfg.logging.level, "propagate": False}
                          for name in ("uvicorn", "uvicorn.error")}
              | {"uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False}}}
    path = layout.run / "uvicorn-logging.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def start(cfg: StackConfig, layout: Layout, colour: str, version: str) -> None:
    env = process_environment(cfg, layout, colour, version)
    logging_config = log_config(cfg, layout)
    for index, port in enumerate(ports(cfg, colour)):
        name = instance_name(colour, index)
        if pid_of(name, layout.pids):
            continue
        require_free("127.0.0.1", port, f"the {colour} backend")
        command = [str(layout.python), "-m", "uvicorn", "edupro_api.main:app", "--host", listen_address(cfg),
                   "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "20",
                   "--log-config", str(logging_config),
                   "--workers", str(cfg.api.workers)]
        # The interpreter of the project's venv may live where the service user cannot reach
        # (pyenv under /root), so the API runs as the operator.
        start_daemon(name, command, layout.pids, layout.logs / f"{name}.log", env={**env, "EDUPRO_INSTANCE": instance(cfg, name)},
                     cwd=layout.repo / "stack" / "backend", drop_privileges=False)
    wait_healthy(cfg, colour)


def wait_healthy(cfg: StackConfig, colour: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    pending = set(ports(cfg, colour))
    while pending and time.monotonic() < deadline:
        for port in list(pending):
            try:
                check = cfg.api.healthcheck
                if requests.get(f"http://127.0.0.1:{port}{check.path}", timeout=check.timeout_seconds).status_code == 200:
                    pending.discard(port)
            except requests.RequestException:
                pass
        time.sleep(0.2)
    if pending:
        raise StackError(f"the {colour} backend did not become healthy on port(s) {sorted(pending)} "
                         f"within {seconds:.0f} s; see run/logs/backend-{colour}-*.log")


def stop(cfg: StackConfig, layout: Layout, colour: str) -> None:
    names = [instance_name(colour, index) for index in range(len(cfg.api.ports[colour]))]  # type: ignore[index]
    stop_daemons(names, layout.pids, seconds=25)


def running(cfg: StackConfig, layout: Layout, colour: str) -> bool:
    return any(pid_of(instance_name(colour, i), layout.pids) for i in range(len(ports(cfg, colour))))

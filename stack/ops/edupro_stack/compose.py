"""The compose driver: the same EduPro stack in containers, from docker-compose.test.yml.

Images are built offline: FROM a base image named by BASE_IMAGE (debian:bookworm-slim; when no registry is
reachable, deploy.sh makes it with debootstrap and `docker import`), Debian packages inside, and the backend's
Python wheels from a wheelhouse filled on the host. The containers get fixed addresses on 172.20.0.0/16; the
host sits on that bridge, so the same Python that bootstraps, migrates, seeds and backs up the local stack
reaches the database and the cache by address, while only the proxy publishes ports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from . import history, tls
from .config import StackConfig, backend_environment, load, write_env_file
from .layout import Layout
from .processes import StackError, run, which
from .services import nginx, postgres

PROJECT = "edupro"
BASE_IMAGE = "debian:bookworm-slim"
ADDRESSES = {"database": "172.20.0.10", "cache": "172.20.0.11", "backend_blue": "172.20.0.21",
             "backend_green": "172.20.0.22", "frontend": "172.20.0.30", "proxy": "172.20.0.40",
             "monitoring": "172.20.0.50"}
BACKEND_PORT = 8000
ROOTFS_CACHE = Path("/var/cache/edupro/rootfs")


def compose_layout(local: Layout) -> Layout:
    """The compose stack's own run directory (run/compose): its secrets, certificate, model, demo accounts and
    history never mix with the local stack's, so both can exist on one machine."""
    return Layout(local.run / "compose")


def in_containers(cfg: StackConfig) -> StackConfig:
    """The configuration as seen from the host: database and cache at their container addresses."""
    return cfg.model_copy(update={
        "database": cfg.database.model_copy(update={"host": ADDRESSES["database"], "port": 5432}),
        "cache": cfg.cache.model_copy(update={"host": ADDRESSES["cache"], "port": 6379})})


def docker_compose(layout: Layout, *args: str, version: str = "") -> str:
    env = {**os.environ, "VERSION": version or "unknown", "BUILD_DATE": _git(layout, "log", "-1", "--format=%cI"),
           "VCS_REF": _git(layout, "rev-parse", "--short", "HEAD"), "BASE_IMAGE": BASE_IMAGE,
           "COMPOSE_DOCKER_CLI_BUILD": "0"}
    result = subprocess.run([which("docker-compose"), "-f", str(layout.repo / "docker-compose.test.yml"), "-p",
                             PROJECT, *args], cwd=layout.repo, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = ((result.stderr or "").strip().splitlines() or ["see the output above"])[-1]
        raise StackError(f"docker-compose {args[0]} failed: {last}")
    return result.stdout or ""


def _git(layout: Layout, *args: str) -> str:
    """The commit's date and short hash label the images (the same commit builds the same labels: cached)."""
    found = subprocess.run(["git", "-C", str(layout.repo), *args], capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def ensure_docker() -> None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise StackError("the Docker daemon is not answering; start it (dockerd) and run this again")


def ensure_base_image() -> None:
    """debian:bookworm-slim from a registry if the machine has it, else debootstrapped here once (cached)."""
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode == 0:
        return
    if not (ROOTFS_CACHE / "etc" / "os-release").exists():
        ROOTFS_CACHE.parent.mkdir(parents=True, exist_ok=True)
        run([which("debootstrap", "/usr/sbin"), "--variant=minbase", "bookworm", str(ROOTFS_CACHE),
             "http://deb.debian.org/debian"], what="debootstrap of the base image")
        for deb in (ROOTFS_CACHE / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            deb.unlink()
    tar = subprocess.Popen(["tar", "-C", str(ROOTFS_CACHE), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["docker", "import", "-c", 'CMD ["bash"]', "-", BASE_IMAGE], stdin=tar.stdout,
                              capture_output=True, text=True)
    tar.wait()
    if imported.returncode != 0:
        raise StackError(f"docker import of the base image failed: {imported.stderr.strip()[-200:]}")


def ensure_wheelhouse(layout: Layout) -> None:
    """The backend's wheels, fetched on the host (which trusts this machine's certificates) once."""
    wheels = layout.run / "wheels"
    requirements = layout.repo / "stack" / "compose" / "requirements-backend.txt"
    stamp = wheels / ".requirements"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return
    wheels.mkdir(parents=True, exist_ok=True)
    run([str(layout.python), "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(wheels),
         "-r", str(requirements), "-c", str(layout.repo / "requirements.txt")],
        what="pip download of the backend's wheels")
    stamp.write_text(requirements.read_text())


def write_files(cfg: StackConfig, layout: Layout, version: str, live: str) -> None:
    here = layout.run
    secrets = here / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets, 0o700)
    for name, value in (("postgres_password", cfg.secrets.postgres_password),
                        ("redis_password", cfg.secrets.redis_password)):
        with os.fdopen(os.open(secrets / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(value)
    seen = in_containers(cfg)
    for colour in ("blue", "green"):
        values = backend_environment(seen, layout, colour, version)
        values["ML_MODEL_PATH"] = "/app/models"
        values["EDUPRO_INSTANCE"] = f"backend_{colour}"
        values["EDUPRO_BUILD_DATE"] = _git(layout, "log", "-1", "--format=%cI")
        values["EDUPRO_VCS_REF"] = _git(layout, "rev-parse", "--short", "HEAD")
        write_env_file(here / f"backend-{colour}.env", values)
    write_proxy_config(cfg, layout, live)
    prometheus = here / "prometheus"
    prometheus.mkdir(exist_ok=True)
    shutil.copy(layout.repo / "stack" / "monitoring" / "alerts.yml", prometheus / "alerts.yml")
    interval = f"{cfg.monitoring.scrape_interval_seconds}s"
    (prometheus / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": ["/etc/edupro/alerts.yml"],
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:9090"]}]},
            {"job_name": "edupro-backend",
             "static_configs": [{"targets": [f"{ADDRESSES['backend_' + live]}:{BACKEND_PORT}"]}]},
        ]}, sort_keys=False))


def write_proxy_config(cfg: StackConfig, layout: Layout, live: str) -> None:
    """The local driver's nginx configuration, with the container's paths and upstreams."""
    text = nginx.render(cfg, layout)
    replacements = {
        f"pid {layout.nginx}/nginx.pid;": "pid /run/nginx.pid;",
        f"error_log {layout.logs}/nginx-error.log warn;": "error_log stderr warn;",
        f"access_log {layout.logs}/nginx-access.log edupro_json;": "access_log /dev/stdout edupro_json;",
        f"{layout.nginx}/tmp/": "/var/lib/nginx/",
        f"include {layout.nginx}/": "include /etc/edupro/",
        str(layout.tls): "/etc/edupro-tls",
        f"listen {cfg.proxy.listen}:{cfg.proxy.http_port};": "listen 80;",
        f"listen {cfg.proxy.listen}:{cfg.proxy.https_port} ssl http2;": "listen 443 ssl http2;",
        f"root {layout.frontend};\n        index index.html;\n\n        location / {{ try_files $uri /index.html; }}":
            f"location / {{ proxy_pass http://{ADDRESSES['frontend']}; }}",
    }
    for old, new in replacements.items():
        if old not in text:
            raise StackError(f"the proxy configuration template changed; cannot adapt '{old[:40]}' for containers")
        text = text.replace(old, new)
    here = layout.run / "nginx"
    here.mkdir(parents=True, exist_ok=True)
    (here / "nginx.conf").write_text(text)
    (here / "proxy.conf").write_text(nginx.PROXY)
    (here / "upstream.conf").write_text(
        f"upstream edupro_backend {{\n    server {ADDRESSES['backend_' + live]}:{BACKEND_PORT} max_fails="
        f"{cfg.api.healthcheck.retries} fail_timeout={cfg.api.healthcheck.timeout_seconds}s;\n    keepalive 32;\n}}\n")


def wait_healthy(layout: Layout, services: list[str], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while True:
        states = {s: container_state(s) for s in services}
        if all(state == "healthy" for state in states.values()):
            return
        if time.monotonic() > deadline:
            late = ", ".join(f"{s} {st}" for s, st in states.items() if st != "healthy")
            raise StackError(f"containers not healthy after {seconds:.0f} s: {late}; see docker logs edupro_<service>")
        time.sleep(1)


def container_state(service: str) -> str:
    found = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                            f"edupro_{service}"], capture_output=True, text=True)
    if found.returncode != 0:
        return "absent"
    status, _, health = found.stdout.strip().partition(" ")
    return health or status


def up(env: str, layout: Layout, version: str) -> dict[str, Any]:
    from .stack import ensure_frontend, ensure_model, run_migration  # the local driver's own steps

    ensure_docker()
    cfg = load(layout, env)
    with history.deployment(layout, "up", env, driver="compose", version=version):
        tls.ensure_certificate(cfg, layout)
        ensure_model(layout)
        ensure_frontend(layout)
        ensure_base_image()
        ensure_wheelhouse(layout)
        state = read_state(layout) or {"env": env, "live_colour": "blue", "version": version}
        write_files(cfg, layout, version, state["live_colour"])
        docker_compose(layout, "build", version=version)
        docker_compose(layout, "up", "-d", "database", "cache", version=version)
        wait_healthy(layout, ["database", "cache"])
        seen = in_containers(cfg)
        postgres.bootstrap(seen)
        run_migration(seen, layout)  # migrations and the seed, from the host, by address
        docker_compose(layout, "up", "-d", version=version)
        wait_healthy(layout, list(ADDRESSES))
        write_state(layout, state)
    return state


def down(layout: Layout) -> None:
    state = read_state(layout)
    with history.deployment(layout, "down", state["env"] if state else "development", driver="compose"):
        docker_compose(layout, "down", "--remove-orphans")
    (layout.run / "state.json").unlink(missing_ok=True)


def read_state(layout: Layout) -> dict[str, Any] | None:
    path = layout.run / "state.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def write_state(layout: Layout, state: dict[str, Any]) -> None:
    (layout.run / "state.json").write_text(json.dumps(state))


def status(layout: Layout) -> dict[str, Any]:
    state = read_state(layout) or {"env": "development", "live_colour": "blue", "version": None}
    services = {}
    for name, address in ADDRESSES.items():
        health = container_state(name)
        services[name] = {"state": "running" if health in ("healthy", "running") else "stopped",
                          "health": health, "address": address, "container": f"edupro_{name}"}
    return {"driver": "compose", "env": state["env"], "live_colour": state["live_colour"],
            "version": state["version"], "base_url": base_url(), "services": services}


def base_url() -> str:
    return f"https://127.0.0.1:{os.environ.get('HTTPS_PORT', '8443')}"  # the port docker-compose.test.yml publishes

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
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import requests
import yaml

from . import backup, history, tls
from .config import StackConfig, backend_environment, load, record_deployed, write_env_file
from .layout import Layout
from .processes import StackError, holder, one_at_a_time, run, which
from .services import backend, nginx, postgres, prometheus
from .stack import (
    State,
    drain_old_nginx_workers,
    ensure_frontend,
    ensure_model,
    run_migration,
    stack_paths,
    switch_plan,
    write_operations_files,
)

PROJECT = "edupro"
DRIVER = "compose"
BASE_IMAGE = "debian:bookworm-slim"
ADDRESSES = {"database": "172.20.0.10", "cache": "172.20.0.11", "backend_blue": "172.20.0.21",
             "backend_green": "172.20.0.22", "frontend": "172.20.0.30", "proxy": "172.20.0.40",
             "monitoring": "172.20.0.50", "node_exporter": "172.20.0.51"}
BACKEND_PORT = 8000
PORTS = {"database": 5432, "cache": 6379, "backend_blue": BACKEND_PORT, "backend_green": BACKEND_PORT,
         "frontend": 80, "proxy": 443, "monitoring": 9090, "node_exporter": 9100}
VOLUMES = ("postgres_data", "redis_data", "prometheus_data")
# The WAL archive is cleaned where the database server has its tools: in its container, where it is mounted.
ARCHIVE_CLEANUP = ["docker", "exec", "edupro_database", "/usr/lib/postgresql/15/bin/pg_archivecleanup",
                   "/var/lib/postgresql/wal_archive"]
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


# On a server the images are shipped ready (deploy.sh builds them on the operator's machine): nothing is built there.
PREBUILT_VARIABLE = "EDUPRO_IMAGES_PREBUILT"


def prebuilt() -> bool:
    return os.environ.get(PREBUILT_VARIABLE) == "1"


def build(layout: Layout, version: str) -> None:
    """The stack's images of VERSION, built offline from this checkout (cached by Docker)."""
    ensure_docker()
    ensure_base_image()
    ensure_wheelhouse(layout)
    with tempfile.TemporaryDirectory() as empty:  # compose reads the files a stack runs with: none is built in
        for name in ("database.env", "backend-blue.env", "backend-green.env", "secrets/postgres_password",
                     "secrets/redis_password"):
            (Path(empty) / name).parent.mkdir(exist_ok=True)
            (Path(empty) / name).touch()
        docker_compose(layout, "build", version=version, run_dir=Path(empty))


def docker_compose(layout: Layout, *args: str, version: str = "", run_dir: Path | None = None) -> str:
    listen, https, http = ("127.0.0.1", "8443", "8080") if run_dir else published(layout)
    env = {**os.environ, "VERSION": version or "unknown", "BUILD_DATE": _git(layout, "log", "-1", "--format=%cI"),
           "VCS_REF": _git(layout, "rev-parse", "--short", "HEAD"), "BASE_IMAGE": BASE_IMAGE,
           "STACK_ID": "build" if run_dir else stack_id(layout), "COMPOSE_DOCKER_CLI_BUILD": "0", "PROXY_LISTEN": listen, "HTTPS_PORT": https,
           "HTTP_PORT": http, "COMPOSE_RUN": str(run_dir or layout.run)}
    result = subprocess.run([which("docker-compose"), "-f", str(layout.repo / "docker-compose.test.yml"), "-p",
                             PROJECT, *args], cwd=layout.repo, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = ((result.stderr or "").strip().splitlines() or ["see the output above"])[-1]
        raise StackError(f"docker-compose {args[0]} failed: {last}")
    return result.stdout or ""


def stack_id(layout: Layout) -> str:
    """This stack's name for its volumes, made once beside its secrets: the data in a volume is readable only with
    the secrets and keys it was written under, so a new run/compose (a fresh clone) gets new volumes."""
    path = layout.run / "stack-id"
    if not path.exists():
        layout.run.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(4))
    return path.read_text().strip()


def volumes(layout: Layout) -> dict[str, str]:
    """The compose file's volumes by their Docker names, as docker-compose.test.yml spells them."""
    return {volume: f"{PROJECT}_{volume}_{stack_id(layout)}" for volume in VOLUMES}


def other_stacks_volumes(layout: Layout) -> list[str]:
    """Volumes of earlier compose stacks on this machine (kept: they hold data; removing them is the owner's call)."""
    found = subprocess.run(["docker", "volume", "ls", "-q", "-f", f"name={PROJECT}_"], capture_output=True, text=True,
                           check=False)
    return [name for name in found.stdout.split() if name not in volumes(layout).values()]


def published(layout: Layout, fresh: bool = False, env: str | None = None) -> tuple[str, str, str]:
    """Where the proxy publishes: the configuration's proxy.listen and ports, as the local driver's nginx listens;
    HTTPS_PORT and HTTP_PORT in the environment move the ports (to run beside the local stack). Chosen at `up`
    and remembered, so status and release find them again."""
    remembered = layout.run / "published.json"
    if remembered.exists() and not fresh:
        return tuple(json.loads(remembered.read_text()))  # type: ignore[return-value]
    state = State.read(layout)
    chosen = _chosen(layout, env or (state.env if state else "development"))
    if fresh:
        remembered.write_text(json.dumps(chosen))
    return chosen


def _chosen(layout: Layout, env: str) -> tuple[str, str, str]:
    proxy = load(layout, env).proxy
    return (proxy.listen, os.environ.get("HTTPS_PORT", str(proxy.https_port)),
            os.environ.get("HTTP_PORT", str(proxy.http_port)))


def require_ports_free(layout: Layout, env: str) -> None:
    """Before anything starts: the ports the proxy will publish are free (or held by this stack's own proxy)."""
    for port in _chosen(layout, env)[1:]:
        taken = holder(int(port))
        if taken and not taken.startswith("docker-proxy"):  # docker-proxy: a compose proxy, this stack's own
            raise StackError(f"port {port} is taken by {taken}, so the proxy container cannot publish it; stop it "
                             "(a local EduPro stack: ./deploy.sh down --driver local) or publish elsewhere: "
                             "HTTPS_PORT=9443 HTTP_PORT=9080 ./deploy.sh up --driver compose")


def _git(layout: Layout, *args: str) -> str:
    """The commit's date and short hash label the images (the same commit builds the same labels: cached)."""
    found = subprocess.run(["git", "-C", str(layout.repo), *args], capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def ensure_docker() -> None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise StackError("the Docker daemon is not answering; start it (dockerd) and run this again")


def ensure_base_image() -> None:
    """debian:bookworm-slim from a registry if the machine has it, else debootstrapped here once (cached)."""
    with one_at_a_time(ROOTFS_CACHE.parent / "rootfs.lock"):
        _ensure_base_image()


def _ensure_base_image() -> None:
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


# The backend image's wheels: a build cache of the checkout, shared by every stack of it (the developer's and
# the tests' own), in the build context the Dockerfile copies from.
WHEELHOUSE = Path(".cache") / "wheels"


def ensure_wheelhouse(layout: Layout, requirements: Path | None = None) -> Path:
    """The wheels of REQUIREMENTS (the backend's by default), fetched on the host (which trusts this machine's
    certificates) once; returns the wheelhouse."""
    wheels = layout.repo / WHEELHOUSE
    requirements = requirements or layout.repo / "stack" / "compose" / "requirements-backend.txt"
    stamp = wheels / f".{requirements.stem}"
    wanted = requirements.read_text() + (layout.repo / "stack" / "compose" / "requirements-backend.txt").read_text()
    with one_at_a_time(layout.repo / ".cache" / "wheels.lock"):
        if stamp.exists() and stamp.read_text() == wanted:
            return wheels
        wheels.mkdir(parents=True, exist_ok=True)
        run([str(layout.python), "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(wheels),
             "-r", str(requirements), "-c", str(layout.repo / "requirements.txt")],
            what=f"pip download of the wheels of {requirements.name}")
        stamp.write_text(wanted)
    return wheels


def write_files(cfg: StackConfig, layout: Layout, state: State) -> None:
    here = layout.run
    secrets = here / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets, 0o700)
    for name, value in (("postgres_password", cfg.secrets.postgres_password),
                        ("redis_password", cfg.secrets.redis_password)):
        with os.fdopen(os.open(secrets / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(value)
    tls_only = cfg.database.ssl_mode not in ("disable", "prefer")  # as the local driver's pg_hba
    write_env_file(here / "database.env", {"EDUPRO_ARCHIVE_TIMEOUT": str(cfg.backup.archive_timeout_seconds),
                                           "EDUPRO_HBA_TYPE": "hostssl" if tls_only else "host"})
    layout.wal_archive.mkdir(parents=True, exist_ok=True)
    layout.textfile.mkdir(parents=True, exist_ok=True)
    for colour in backend.COLOURS:
        write_backend_env(cfg, layout, colour, state.versions[colour])
    write_proxy_config(cfg, layout, state.live_colour)
    write_prometheus_config(cfg, layout, state.live_colour)
    write_operations_files(cfg, layout, DRIVER)


def _writable_by_backend(folder: Path, version: str) -> None:
    """A folder the backend containers write to: owned by the image's own user (its number, read from the image)."""
    folder.mkdir(parents=True, exist_ok=True)
    found = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", f"edupro/backend:{version}", "-u"],
                           capture_output=True, text=True)
    if found.returncode == 0 and found.stdout.strip().isdigit():
        os.chown(folder, int(found.stdout.strip()), -1)
    folder.chmod(0o755)


def write_backend_env(cfg: StackConfig, layout: Layout, colour: str, version: str) -> None:
    values = backend_environment(in_containers(cfg), layout, colour, version)
    values["ML_MODEL_PATH"] = "/app/models"
    values["EDUPRO_OPENAPI_DIR"] = "/app/api-descriptions"  # each colour's OpenAPI document, as it serves it
    values["EDUPRO_INSTANCE"] = f"backend_{colour}"
    values["EDUPRO_TRUSTED_PROXIES"] = json.dumps([ADDRESSES["proxy"]])  # the client address comes from the proxy
    values["EDUPRO_BUILD_DATE"], values["EDUPRO_VCS_REF"] = build_labels(layout, version)
    write_env_file(layout.backend_env(colour), values)


def build_labels(layout: Layout, version: str) -> tuple[str, str]:
    """The build date and commit the backend reports: this checkout's, or on a server (no checkout there, images
    shipped ready) the labels of the image it runs."""
    if not prebuilt():
        return _git(layout, "log", "-1", "--format=%cI"), _git(layout, "rev-parse", "--short", "HEAD")
    found = subprocess.run(["docker", "image", "inspect", "-f", "{{json .Config.Labels}}", f"edupro/backend:{version}"],
                           capture_output=True, text=True)
    labels = (json.loads(found.stdout or "{}") if found.returncode == 0 else None) or {}
    return labels.get("BUILD_DATE") or "unknown", labels.get("VCS_REF") or "unknown"


def write_prometheus_config(cfg: StackConfig, layout: Layout, live: str) -> None:
    prometheus = layout.run / "prometheus"
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
            {"job_name": "node", "static_configs": [{"targets": [f"{ADDRESSES['node_exporter']}:9100"]}]},
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
        states = {s: " ".join(container_state(s)) for s in services}
        if all(state == "running healthy" for state in states.values()):
            return
        if time.monotonic() > deadline:
            late = ", ".join(f"{s} {st}" for s, st in states.items() if st != "running healthy")
            raise StackError(f"containers not healthy after {seconds:.0f} s: {late}; see docker logs edupro_<service>")
        time.sleep(1)


def running_images() -> dict[str, str]:
    """Each running service's image, by identity: the release record the suite holds the containers to (APP-06)."""
    found = subprocess.run(["docker", "inspect", "-f", "{{.Name}} {{.State.Running}} {{.Image}}",
                            *(f"edupro_{service}" for service in ADDRESSES)], capture_output=True, text=True)
    running = {name.lstrip("/"): image for name, state, image in
               (line.split() for line in found.stdout.splitlines() if len(line.split()) == 3) if state == "true"}
    return {service: running[f"edupro_{service}"] for service in ADDRESSES if f"edupro_{service}" in running}


def container_state(service: str) -> tuple[str, str]:
    """Docker's status of the service's container ("absent" if there is none) and its health ("" if unchecked)."""
    found = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                            f"edupro_{service}"], capture_output=True, text=True)
    if found.returncode != 0:
        return "absent", ""
    status, _, health = found.stdout.strip().partition(" ")
    return status, health


def up(env: str, layout: Layout, version: str) -> State:
    ensure_docker()
    cfg = load(layout, env)
    require_ports_free(layout, env)
    with history.deployment(layout, "up", env, driver=DRIVER, version=version) as record:
        tls.ensure_certificate(cfg, layout)
        ensure_model(layout)
        ensure_frontend(layout)
        if not prebuilt():
            ensure_base_image()
            ensure_wheelhouse(layout)
        state = State.read(layout) or State(env=env, versions={colour: version for colour in backend.COLOURS})
        write_files(cfg, layout, state)
        published(layout, fresh=True, env=env)
        if not prebuilt():
            docker_compose(layout, "build", version=version)
        _writable_by_backend(layout.api_descriptions, version)
        docker_compose(layout, "up", "-d", "--no-build", "database", "cache", version=version)
        wait_healthy(layout, ["database", "cache"])
        seen = in_containers(cfg)
        try:
            postgres.bootstrap(seen)
        except psycopg.OperationalError as error:
            if "password authentication failed" not in str(error):
                raise StackError(f"the database container refused a connection: {str(error).strip()}") from None
            database = volumes(layout)["postgres_data"]
            raise StackError(f"the database volume {database} refuses the secrets in {layout.run}/secrets (were they "
                             f"edited?); put the old ones back, or run ./deploy.sh down, then docker volume rm "
                             f"{database}, then up again "
                             "(its data is lost)") from None
        fresh = not postgres.has_schema(seen)
        run_migration(seen, layout, DRIVER, ARCHIVE_CLEANUP)  # migrations and the seed, from the host, by address
        if fresh or not any(layout.dumps.glob("edupro_backup_*.sql")):
            backup.take(seen, layout, archive_cleanup=ARCHIVE_CLEANUP)  # a new database's first backup, as the local driver takes it (OPS-04)
        docker_compose(layout, "up", "-d", "--no-build", version=version)
        wait_healthy(layout, list(ADDRESSES))
        state.write(layout)
        record_deployed(cfg, layout)
        record["images"] = running_images()
    return state


def down(layout: Layout) -> None:
    state = State.read(layout)
    with history.deployment(layout, "down", state.env if state else "development", driver=DRIVER):
        docker_compose(layout, "down", "--remove-orphans")
    layout.state_file.unlink(missing_ok=True)
    (layout.run / "published.json").unlink(missing_ok=True)


def running_state(layout: Layout) -> tuple[State, StackConfig]:
    state = State.read(layout)
    if state is None:
        raise StackError("the compose stack is not up; run ./deploy.sh up --driver compose first")
    return state, in_containers(load(layout, state.env))


def switch(layout: Layout, version: str | None, action: str) -> State:
    """Blue-green between the two backend containers: the idle one is recreated on VERSION (the previous
    release's for a rollback) and Docker must report it healthy, the proxy reloads gracefully onto it,
    Prometheus follows, and the old one stops once the proxy's old workers have finished their requests. A rollback
    starts the image the previous release ran (recorded by identity: a later build of the same version took its
    tag), never a build of the checkout."""
    state, cfg = running_state(layout)
    rollback = version is None
    old, new, version = switch_plan(state, version)
    previous_image = (state.previous or {}).get("image") if rollback else None
    with history.deployment(layout, action, state.env, driver=DRIVER, version=version, colour=new) as record:
        if prebuilt() and subprocess.run(["docker", "image", "inspect", f"edupro/backend:{version}"],
                                         capture_output=True).returncode != 0:
            raise StackError(f"this server has no image edupro/backend:{version}: images reach a server with "
                             "./deploy.sh up --env ENV (built from the checkout, its configured version)")
        if previous_image:  # the tag of the version back on the image that release ran
            run(["docker", "tag", previous_image, f"edupro/backend:{version}"], what="docker tag of the previous image")
        write_backend_env(cfg, layout, new, version)
        build = "--no-build" if prebuilt() or previous_image else "--build"
        docker_compose(layout, "up", "-d", "--no-deps", build, f"backend_{new}", version=version)
        wait_healthy(layout, [f"backend_{new}"], seconds=180)  # Docker's own verdict (first check after 30 s)
        write_proxy_config(cfg, layout, new)
        run(["docker", "exec", "edupro_proxy", "nginx", "-s", "reload", "-c", "/etc/edupro/nginx.conf"],
            what="proxy reload")
        write_prometheus_config(cfg, layout, new)
        requests.post(f"{prometheus_url()}/-/reload", timeout=10).raise_for_status()
        prometheus.wait_for_backend_targets(prometheus_url(), [f"{ADDRESSES['backend_' + new]}:{BACKEND_PORT}"])
        drain_old_nginx_workers()
        state.previous = {"colour": old, "version": state.live_version,
                          **({"image": image} if (image := running_images().get(f"backend_{old}")) else {})}
        state.versions[new] = version
        state.live_colour = new
        state.write(layout)
        docker_compose(layout, "stop", f"backend_{old}", version=state.versions[old])
        if prebuilt() and not rollback:  # a server: deploy.sh brought every image of the version
            record["recreated"] = refresh_changed(layout, version)
        record["images"] = running_images()
    return state


def refresh_changed(layout: Layout, version: str) -> list[str]:
    """After a release: every other service whose image of VERSION holds other content (other layers, not only
    other labels) than the one its container runs is recreated from it (a brief interruption of that service)."""
    changed = []
    for service in ADDRESSES:
        if service.startswith("backend_"):
            continue
        image = "monitoring" if service == "node_exporter" else service  # the exporter runs the monitoring image
        running = subprocess.run(["docker", "inspect", "-f", "{{.Image}}", f"edupro_{service}"], capture_output=True,
                                 text=True).stdout.strip()
        shipped = _layers(f"edupro/{image}:{version}")
        if running and shipped and _layers(running) != shipped:
            changed.append(service)
    if changed:
        docker_compose(layout, "up", "-d", "--no-deps", "--no-build", *changed, version=version)
        wait_healthy(layout, changed)
    return changed


def _layers(image: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", image], capture_output=True,
                          text=True).stdout.strip()


def take_backup(layout: Layout, scheduled: bool = False) -> Path:
    """pg_dump from the host to the database container's address, into run/compose/backups/dumps."""
    _, cfg = running_state(layout)
    return backup.take(cfg, layout, scheduled, ARCHIVE_CLEANUP)


def restore(layout: Layout, file: Path, into: str) -> float:
    _, cfg = running_state(layout)
    return backup.restore(cfg, file, into)


def status(layout: Layout) -> dict[str, Any]:
    """The same shape as the local driver's status, with container names and addresses."""
    state = State.read(layout)
    env = state.env if state else "development"
    cfg = in_containers(load(layout, env))
    services: dict[str, Any] = {}
    for name, address in ADDRESSES.items():
        docker_status, health = container_state(name)
        services[name] = {"state": "running" if docker_status == "running" else "stopped",
                          "health": health if docker_status == "running" and health else docker_status,
                          "address": f"{address}:{PORTS[name]}", "container": f"edupro_{name}"}
    services["proxy"].update(http=f"{ADDRESSES['proxy']}:80", config="/etc/edupro/nginx.conf",
                             published="{}:{}".format(*published(layout)[:2]))
    for colour in backend.COLOURS:
        services[f"backend_{colour}"].update(live=state is not None and colour == state.live_colour,
                                              healthcheck=cfg.api.healthcheck.model_dump(),
                                              version=state.versions.get(colour) if state else None)
    paths = {**stack_paths(layout, env), "compose_file": str(layout.repo / "docker-compose.test.yml")}
    return {"driver": DRIVER, "env": env, "base_url": base_url(layout), "http_url": f"http://127.0.0.1:{published(layout)[2]}",
            "server_name": cfg.proxy.server_name, "live_colour": state.live_colour if state else None,
            "version": state.live_version if state else None, "services": services,
            "prometheus_url": prometheus_url(),
            "database": {"host": cfg.database.host, "port": cfg.database.port, "name": cfg.database.name,
                         "owner_role": postgres.OWNER, "app_role": postgres.APP},
            "cache": {"host": cfg.cache.host, "port": cfg.cache.port},
            "containers": {name: f"edupro_{name}" for name in ADDRESSES},
            "stack_id": stack_id(layout), "volumes": volumes(layout),
            "paths": paths}


def base_url(layout: Layout) -> str:
    return f"https://127.0.0.1:{published(layout)[1]}"


def prometheus_url() -> str:
    return f"http://{ADDRESSES['monitoring']}:9090"

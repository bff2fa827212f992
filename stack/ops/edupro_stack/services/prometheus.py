"""Prometheus and the node exporter: scrape the live backend, the host, and itself (MON-01..03)."""

from __future__ import annotations

import json
import time

import requests
import yaml

from ..config import StackConfig
from ..layout import Layout
from ..processes import give, pid_of, run, start_daemon, stop_daemons, wait_for_port, which

MONITORING = "stack/monitoring"


def write(cfg: StackConfig, layout: Layout, backends: list[str]) -> None:
    prom = layout.prometheus
    (prom / "data").mkdir(parents=True, exist_ok=True)
    layout.textfile.mkdir(parents=True, exist_ok=True)
    interval = f"{cfg.monitoring.scrape_interval_seconds}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(layout.repo / MONITORING / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "prometheus",
             "static_configs": [{"targets": [f"127.0.0.1:{cfg.monitoring.prometheus_port}"]}]},
            {"job_name": "edupro-backend", "file_sd_configs": [{"files": [str(prom / "backend_targets.json")]}]},
            {"job_name": "node", "static_configs": [{"targets": node_targets(cfg)}]},
        ],
    }
    (prom / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    set_backend_targets(layout, backends)
    give(prom)
    give(layout.textfile)


def node_targets(cfg: StackConfig) -> list[str]:
    """Every server's node exporter: this one's on loopback; on the web tier of a three-tier network, each application
    and data server's on its own address too (their firewalls admit the web server to it)."""
    port = cfg.monitoring.node_exporter_port
    others = [*cfg.tiers.app, *cfg.tiers.data] if cfg.tiers.role == "web" else []
    return [f"127.0.0.1:{port}", *(f"{_bracketed(address)}:{port}" for address in others)]


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def exporter_address(cfg: StackConfig) -> str:
    """Loopback where Prometheus runs beside it; a server behind the web tier's own address, for the web server's
    Prometheus to reach."""
    behind = cfg.tiers.role in ("app", "data") and cfg.tiers.address
    return f"{_bracketed(cfg.tiers.address) if behind else '127.0.0.1'}:{cfg.monitoring.node_exporter_port}"


def start_node_exporter(cfg: StackConfig, layout: Layout) -> None:
    layout.textfile.mkdir(parents=True, exist_ok=True)
    address = exporter_address(cfg)
    if not pid_of("node-exporter", layout.pids):
        start_daemon("node-exporter", [which("prometheus-node-exporter"), f"--web.listen-address={address}",
                                       f"--collector.textfile.directory={layout.textfile}"],
                     layout.pids, layout.logs / "node-exporter.log")
    host, port = address.rsplit(":", 1)
    wait_for_port(host.strip("[]"), int(port), "node exporter")


def set_backend_targets(layout: Layout, backends: list[str]) -> None:
    """Only the live colour is scraped, so an idle colour is never reported as a target down."""
    targets = [{"targets": backends, "labels": {"service": "backend"}}]
    path = layout.prometheus / "backend_targets.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(targets))
    tmp.replace(path)


def wait_for_backend_targets(prometheus_url: str, addresses: list[str], seconds: float = 20) -> None:
    """Wait until Prometheus scrapes exactly these backend addresses (it applies a reload's targets up to 5 s
    later), so stopping the old colour is not recorded as an outage (OPS-01)."""
    want = set(addresses)
    deadline = time.monotonic() + seconds
    url = f"{prometheus_url}/api/v1/targets"
    while time.monotonic() < deadline:
        try:
            active = requests.get(url, timeout=2).json()["data"]["activeTargets"]
            have = {t["labels"]["instance"] for t in active if t["labels"].get("job") == "edupro-backend"}
            if have == want:
                return
        except (requests.RequestException, KeyError, ValueError):
            pass
        time.sleep(0.2)


def check_rules(layout: Layout) -> None:
    run([which("promtool"), "check", "rules", str(layout.repo / MONITORING / "alerts.yml")], what="promtool")


def start(cfg: StackConfig, layout: Layout) -> None:
    check_rules(layout)
    port = cfg.monitoring.prometheus_port
    start_node_exporter(cfg, layout)
    if not pid_of("prometheus", layout.pids):
        start_daemon("prometheus", [which("prometheus"), f"--config.file={layout.prometheus / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={layout.prometheus / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
                                    "--storage.tsdb.retention.time=7d"],
                     layout.pids, layout.logs / "prometheus.log")
    wait_for_port("127.0.0.1", port, "Prometheus")


DAEMONS = ("prometheus", "node-exporter")


def stop(layout: Layout) -> None:
    stop_daemons(list(DAEMONS), layout.pids)

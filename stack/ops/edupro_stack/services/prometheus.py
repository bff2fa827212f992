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
            {"job_name": "node",
             "static_configs": [{"targets": [f"127.0.0.1:{cfg.monitoring.node_exporter_port}"]}]},
        ],
    }
    (prom / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    set_backend_targets(layout, backends)
    give(prom)
    give(layout.textfile)


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
    port, node = cfg.monitoring.prometheus_port, cfg.monitoring.node_exporter_port
    if not pid_of("node-exporter", layout.pids):
        start_daemon("node-exporter", [which("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{node}",
                                       f"--collector.textfile.directory={layout.textfile}"],
                     layout.pids, layout.logs / "node-exporter.log")
    if not pid_of("prometheus", layout.pids):
        start_daemon("prometheus", [which("prometheus"), f"--config.file={layout.prometheus / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={layout.prometheus / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
                                    "--storage.tsdb.retention.time=7d"],
                     layout.pids, layout.logs / "prometheus.log")
    wait_for_port("127.0.0.1", node, "node exporter")
    wait_for_port("127.0.0.1", port, "Prometheus")


DAEMONS = ("prometheus", "node-exporter")


def stop(layout: Layout) -> None:
    stop_daemons(list(DAEMONS), layout.pids)

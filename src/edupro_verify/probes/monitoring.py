"""Prometheus over its HTTP API, and promtool for rule files."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import requests
import yaml

from ..errors import ProbeError, request_failure

METRIC = re.compile(r"\b((?:edupro|node)_[A-Za-z0-9_]+|up)\b")


class Prometheus:
    def __init__(self, url: str) -> None:
        if not url:
            raise ProbeError("the profile gives no Prometheus URL")
        self.url = url

    def _get(self, path: str, **params: Any) -> Any:
        try:
            response = requests.get(f"{self.url}{path}", params=params, timeout=10)
        except requests.RequestException as error:
            raise ProbeError(f"Prometheus at {self.url} is unreachable ({request_failure(error)})") from None
        body = response.json()
        if body.get("status") != "success":
            raise ProbeError(f"Prometheus answered {path} with {body.get('error', response.status_code)}")
        return body["data"]

    def targets(self, settle_seconds: float = 20) -> list[dict[str, Any]]:
        """Active targets, once each has been scraped at least once (a new target reads 'unknown')."""
        deadline = time.monotonic() + settle_seconds
        while True:
            targets = list(self._get("/api/v1/targets")["activeTargets"])
            if all(t.get("health") != "unknown" for t in targets) or time.monotonic() > deadline:
                return targets
            time.sleep(1)

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/query", query=expr)["result"])

    def metric_names(self) -> set[str]:
        return set(self._get("/api/v1/label/__name__/values"))

    def loaded_alerts(self) -> set[str]:
        groups = self._get("/api/v1/rules")["groups"]
        return {rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"}

    def rule_files(self) -> list[str]:
        config = yaml.safe_load(self._get("/api/v1/status/config")["yaml"])
        return list(config.get("rule_files", []))


def promtool_check_rules(host: Any, path: str) -> tuple[bool, str]:
    """promtool on the host (or in the container) where Prometheus reads the file."""
    result = host.run("promtool check rules %s", path)
    if result.rc == 127:
        raise ProbeError("promtool is not installed where Prometheus runs (apt-get install prometheus)")
    return result.rc == 0, (result.stdout + result.stderr).strip().splitlines()[-1]


def dashboard_metrics(host: Any, folder: str) -> dict[str, list[str]]:
    """Metric names each dashboard's panel expressions use (the dashboards in FOLDER on the host)."""
    used: dict[str, list[str]] = {}
    listing = host.run(f"ls -1 {folder}")
    for name in sorted(n for n in listing.stdout.split() if n.endswith(".json")):
        try:
            dashboard = json.loads(host.file(f"{folder}/{name}").content_string)
        except json.JSONDecodeError as error:
            raise AssertionError(f"dashboard {name} is not valid JSON: {error}") from None
        exprs = [t.get("expr", "") for p in dashboard.get("panels", []) for t in p.get("targets", [])]
        names = {n for expr in exprs for n in METRIC.findall(expr)}
        used[name] = sorted(names)
    return used

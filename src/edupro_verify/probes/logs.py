"""What a stack logs: files under its logs folder on the host, and its containers' output (DATA-03, OPS-05)."""

from __future__ import annotations

import json
from typing import Any

from ..targets import Target
from . import containers


def log_hosts(target: Target) -> dict[str, Any]:
    """Where logs are written: every host of the target (each tier's server writes its own)."""
    return target.hosts if target.tier_hosts else {"": target.host}


def log_files(target: Target) -> list[tuple[Any, str]]:
    """(host, path) of every file in the logs folder of each host."""
    if "logs" not in target.paths:
        return []
    files = []
    for host in log_hosts(target).values():
        found = host.run(f"find {target.paths['logs']} -type f")
        files += [(host, f) for f in found.stdout.split()] if found.rc == 0 else []
    return files


def container_logs(target: Target) -> dict[str, str]:
    """Each container's whole output, as `docker logs` gives it."""
    if not target.containers:
        return {}
    return {f"docker logs {c.name}": containers.logs(c) for c in containers.of_target(target).values()}


def application_lines(target: Target, last: int = 200) -> dict[str, list[str]]:
    """The last lines the backends and the proxy wrote."""
    if target.containers:
        return {name: text.splitlines()[-last:] for name, text in container_logs(target).items()
                if "backend_" in name or "proxy" in name}
    folder = target.path("logs")
    lines = {}
    for label, host in log_hosts(target).items():
        names = [f for f in host.run(f"ls -1 {folder}").stdout.split()
                 if f.startswith("backend-") or f == "nginx-access.log"]
        lines.update({f"{label} {f}".strip(): host.file(f"{folder}/{f}").content_string.splitlines()[-last:]
                      for f in names})
    return lines


def non_json_lines(lines_by_log: dict[str, list[str]]) -> dict[str, int]:
    """How many lines of each log are not a JSON document."""
    bad: dict[str, int] = {}
    for name, lines in lines_by_log.items():
        for line in lines:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad[name] = bad.get(name, 0) + 1
    return bad

"""What a stack logs: files under its logs folder on the host, and its containers' output (DATA-03, OPS-05)."""

from __future__ import annotations

import json

from ..targets import Target
from . import containers


def log_files(target: Target) -> list[str]:
    if "logs" not in target.paths:
        return []
    found = target.host.run(f"find {target.paths['logs']} -type f")
    return found.stdout.split() if found.rc == 0 else []


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
    names = [f for f in target.host.run(f"ls -1 {folder}").stdout.split()
             if f.startswith("backend-") or f == "nginx-access.log"]
    return {f: target.host.file(f"{folder}/{f}").content_string.splitlines()[-last:] for f in names}


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

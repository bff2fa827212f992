"""The developer's stack beside the project's tests: recorded before them, and found exactly as it was after.

    python -m tests.machine_in_use snapshot FILE    processes, data checksums, deployment history, log positions
    python -m tests.machine_in_use check FILE       the same now, or one line per difference (exit 1)

`./deploy.sh test` runs the tests on their own stack (their own run directory and ports: EDUPRO_RUN_DIR,
EDUPRO_PORT_OFFSET) beside the development stack, and calls this before and after them. What the stack does on
its own while the tests run is not a change: Prometheus scraping /metrics, its own and the node exporter's logs,
PostgreSQL's checkpoints, Redis's snapshots.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
# Log lines the stack writes by itself, with nobody using it.
ITS_OWN = {"backend-": ('"route": "/metrics"',), "postgres.log": ("checkpoint",), "prometheus.log": ("",),
           "node-exporter.log": ("",),
           # Redis's own snapshots ("100 changes in 300 seconds. Saving..."), minutes after the writes that count
           "redis.log": ("changes in", "Background saving", "DB saved on disk", "Fork CoW", "Saving the final")}


def status(env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run([str(REPO / "deploy.sh"), "status", "--json"], capture_output=True, text=True, timeout=120,
                            env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"machine_in_use: deploy.sh status failed: {result.stderr.strip()[-200:]}")
    return dict(json.loads(result.stdout))


def processes(run: Path) -> dict[str, str]:
    """Each service process of the stack: its pid and when it started (a restart changes both)."""
    found = {}
    pid_files = {p.stem: p for p in sorted((run / "pids").glob("*.pid"))}
    pid_files.update({"nginx": run / "nginx" / "nginx.pid", "postgres": run / "postgres" / "data" / "postmaster.pid"})
    for name, pid_file in pid_files.items():
        if not pid_file.exists():
            found[name] = "no pid file"
            continue
        pid = pid_file.read_text().split()[0]
        stat = Path(f"/proc/{pid}/stat")
        found[name] = f"{pid} started at tick {stat.read_text().rsplit(')', 1)[1].split()[19]}" \
            if stat.exists() else f"{pid} not running"
    return found


def tables(stack: dict[str, Any]) -> dict[str, str]:
    """Row count and an md5 of every table of the public schema."""
    secrets = json.loads(Path(stack["paths"]["secrets"]).read_text())
    db = stack["database"]
    with psycopg.connect(host=db["host"], port=db["port"], dbname=db["name"], user=db["owner_role"],
                         password=secrets["owner_password"], autocommit=True, connect_timeout=5) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: str(conn.execute(f'SELECT count(*), md5(coalesce(string_agg(x::text, \'|\' ORDER BY x::text), \'\')) '
                                    f'FROM "{t}" x').fetchone()) for t in names}


def snapshot() -> dict[str, Any]:
    stack = status()
    run = Path(stack["paths"]["secrets"]).parent  # the stack's run directory
    logs = Path(stack["paths"]["logs"])
    history = Path(stack["paths"]["deployment_history"])
    return {"run": str(run), "live_colour": stack.get("live_colour"), "version": stack.get("version"),
            # every service that runs a process of its own (the frontend is files the proxy serves: its state says
            # whether the checkout asking has built them, not what the stack does)
            "services": {n: s["state"] for n, s in stack["services"].items() if n != "frontend"},
            "processes": processes(run),
            "tables": tables(stack),
            "history": hashlib.sha256(history.read_bytes()).hexdigest() if history.exists() else "none",
            "logs": {p.name: p.stat().st_size for p in sorted(logs.glob("*.log"))}}


def changed_logs(before: dict[str, int], logs: Path) -> list[str]:
    """Log lines written since the snapshot that the stack would not have written by itself."""
    found = []
    for name, size in before.items():
        path = logs / name
        if not path.exists():
            found.append(f"log {name} is gone")
            continue
        allowed = next((marks for prefix, marks in ITS_OWN.items() if name.startswith(prefix)), ())
        with path.open("rb") as handle:
            handle.seek(size)
            new = handle.read().decode(errors="replace").splitlines()
        foreign = [line for line in new if line.strip() and not any(mark in line for mark in allowed)]
        if foreign:
            found.append(f"log {name}: {len(foreign)} new line(s), first: {foreign[0][:160]}")
    found += [f"new log {p.name}" for p in sorted(logs.glob("*.log")) if p.name not in before]
    return found


def differences(before: dict[str, Any]) -> list[str]:
    now = snapshot()
    found = [f"{key}: {before[key]} -> {now[key]}" for key in ("run", "live_colour", "version", "services",
                                                                 "processes", "history") if before[key] != now[key]]
    found += [f"table {t}: changed" for t in before["tables"] if before["tables"][t] != now["tables"].get(t)]
    found += [f"table {t}: new" for t in now["tables"] if t not in before["tables"]]
    return found + changed_logs(before["logs"], Path(now["run"]) / "logs")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("snapshot", "check"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    verb, file = argv[0], Path(argv[1])
    if verb == "snapshot":
        file.write_text(json.dumps(snapshot(), indent=1))
        return 0
    found = differences(json.loads(file.read_text()))
    for line in found:
        print(f"the development stack changed during the tests: {line}", file=sys.stderr)
    if not found:
        print("the development stack is exactly as it was before the tests (processes, data, history, logs)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

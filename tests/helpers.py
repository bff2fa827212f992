"""What the suite's own tests share: running the suite and deploy.sh as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_suite(*args: str, env: dict[str, str] | None = None, timeout: int = 900,
              pdf: bool = False) -> subprocess.CompletedProcess[str]:
    """`pytest ARGS` from the repository, as QA types it; without report.pdf unless PDF (a browser start a run,
    and the fault tests run the suite some two hundred times)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *([] if pdf else ["--no-pdf"]),
                           *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edupro_verify.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def deploy(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "deploy.sh"), *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def status() -> dict[str, Any]:
    result = deploy("status", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def server_errors(stack: dict[str, Any], since: str, limit: int = 12) -> list[str]:
    """What the servers logged as failing since an ISO time: backend 5xx and exceptions, PostgreSQL
    errors. Put into an assertion message, it says why a run went red on a machine we cannot see."""
    logs = Path(stack["paths"]["logs"])
    found: list[str] = []
    for log in sorted(logs.glob("backend-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if str(entry.get("time", "")) >= since and (entry.get("level") in ("ERROR", "CRITICAL")
                                                       or int(entry.get("status") or 0) >= 500):
                found.append(f"{log.name}: {line[:300]}")
    postgres = logs / "postgres.log"
    if postgres.exists():
        found += [f"postgres.log: {line[:300]}" for line in postgres.read_text(errors="replace").splitlines()
                  if line[:19].replace(" ", "T") >= since[:19] and (" ERROR: " in line or " FATAL: " in line
                                                                   or "DETAIL:" in line)]
    return found[-limit:]


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error a user sees: exactly one line, no traceback."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("edupro-verify: the waiver", "edupro-verify: the signing key"))]
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    return lines[0]

"""`./deploy.sh bench --quick` as a user runs it: every part measures and prints its figures, exit 0."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.quiet  # figures of a machine that is doing nothing else

# Each part, and figures only it prints (bench/*.py).
PARTS = {"suite": ("suite_wall_time_without_load", "tls_ratio_testssl_over_ours"),
         "capacity": ("capacity_users_held", "wrk_backend_health"),
         "deploy": ("deploy_cold_up", "deploy_down"),
         "downtime": ("switches", "probe_requests"),
         "recovery": ("backup_shipped",)}


def test_the_quick_bench_prints_every_part_s_figures(stack: dict[str, Any]) -> None:
    result = subprocess.run([str(REPO / "deploy.sh"), "bench", "--quick"], cwd=REPO, capture_output=True, text=True,
                            timeout=900, env=os.environ.copy())
    figures = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    not_measured = {name: value for name, value in figures.items() if name.endswith("_not_measured")}
    missing = {part: [n for n in names if n not in figures] for part, names in PARTS.items()
               if any(n not in figures for n in names)}
    assert result.returncode == 0 and not not_measured and not missing, (
        f"exit {result.returncode}; not measured: {not_measured}; figures missing: {missing}\n"
        f"{result.stdout[-1500:]}{result.stderr[-1500:]}")
    print(result.stdout)

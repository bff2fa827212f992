"""The load step with a profile that names Locust workers: a master and two local workers, not library mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO, run_suite

pytestmark = pytest.mark.quiet  # the load step's verdict: the machine to itself


def test_the_load_step_runs_a_master_and_two_workers(stack: dict[str, Any], tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(REPO / "specs", specs)
    profile = specs / "environments" / "development.yaml"
    data = yaml.safe_load(profile.read_text())
    data["load"]["workers"] = 2
    profile.write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_suite("--env", "development", "--no-gate", "-m", "load", f"--specs={specs}",
                       f"--reports-dir={tmp_path / 'reports'}", "-q")
    evidence = json.loads((tmp_path / "reports" / "latest" / "evidence.json").read_text())
    verdicts = {rid: evidence["requirements"][rid]["status"] for rid in ("PERF-01", "PERF-02")}
    assert result.returncode == 0 and set(verdicts.values()) == {"passed"}, (verdicts, result.stdout[-1500:])
    p95 = next(m for s in evidence["scenarios"] for m in s["measurements"] if m["what"].startswith("p95 with"))
    assert p95["source"] == "Locust, distributed mode, a master and 2 workers"
    users = next(m for s in evidence["scenarios"] for m in s["measurements"] if m["what"] == "simultaneous users")
    assert users["value"] >= 50 and users["verdict"] == "passed"

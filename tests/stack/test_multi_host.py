"""A profile listing several hosts per tier: each host is checked, and each has its own results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import REPO, run_suite

HOST_CHECKS = "REQ-HW-01 or REQ-HW-02 or REQ-SW-01 or REQ-ENV-01 or REQ-ENV-02"
HOSTS = {"web": ["local://"], "database": ["local://"]}  # two tiers; on this machine both are this host


def profile_with_hosts(tmp_path: Path, min_cores: int | None = None) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(REPO / "specs", specs)
    path = specs / "environments" / "development.yaml"
    data = yaml.safe_load(path.read_text())
    data["target"]["hosts"] = HOSTS
    if min_cores:
        data["thresholds"]["HW-01"]["min_cores"] = f">= {min_cores}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return specs


def evidence_of(tmp_path: Path, specs: Path) -> dict[str, Any]:
    run_suite("--env", "development", "--no-gate", "-m", HOST_CHECKS, f"--specs={specs}",
              f"--reports-dir={tmp_path / 'reports'}", "-q")
    return dict(json.loads((tmp_path / "reports" / "latest" / "evidence.json").read_text()))


def test_every_host_of_every_tier_is_checked(stack: dict[str, Any], tmp_path: Path) -> None:
    evidence = evidence_of(tmp_path, profile_with_hosts(tmp_path))
    statuses = {rid: evidence["requirements"][rid]["status"] for rid in ("HW-01", "HW-02", "SW-01", "ENV-01", "ENV-02")}
    assert set(statuses.values()) == {"passed"}, statuses
    assert evidence["target"]["hosts"] == ["web local://", "database local://"]
    measured = {(m["source"], m["what"]) for s in evidence["scenarios"] for m in s["measurements"]}
    for label in ("web local://", "database local://"):
        assert {(label, "cores"), (label, "memory"), (label, "operating system"), (label, "disk"),
                (label, "installed base packages")} <= measured, sorted(measured)


def test_a_failing_host_is_named(stack: dict[str, Any], tmp_path: Path) -> None:
    evidence = evidence_of(tmp_path, profile_with_hosts(tmp_path, min_cores=64))
    reason = evidence["requirements"]["HW-01"]["reason"]
    assert evidence["requirements"]["HW-01"]["status"] == "failed"
    assert "web local://: cores is" in reason and "database local://: cores is" in reason, reason

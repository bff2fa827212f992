"""Production as the paper draws it: the three-tier lab from nothing (a web server, two application servers, a data
server, each behind its tier's security group), deployed tier by tier over SSH, verified from outside by the profile
alone; a fault on one tier at a time turns its requirement red, and it is green again once undone.

The tests use their own servers (EDUPRO_LAB_ADDRESS moves the lab to .120-.123, beside the developer's at .20-.23)
and their own copy of the specs whose production profile names them, so a developer's lab is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO, run_suite
from tests.lab.faults import APP1, APP2, DATA, REGISTRY, TIER_FAULTS, WEB, ServerFault
from tests.lab.test_staging_lab import caught_and_healed, evidence_of

RUN_DIR = Path(os.environ.get("EDUPRO_RUN_DIR", REPO / ".test-stack"))
SSH_CONFIG = RUN_DIR / "lab" / "production.ssh_config"
MUST_PASS = ("PLAN-02", "PLAN-03", "HW-04", "DATA-05", "FW-01", "SEC-02", "MON-01", "MON-04", "APP-04", "DATA-01")
# The throughput between the tiers (HW-04: 1.5 Gbps between the lab's containers on a quiet machine) measured 63 Mbps
# once in a second run made while ./deploy.sh test ran a stack beside the lab: it is required of the first run
# (above), not compared between two runs.
LOAD_SENSITIVE = ("HW-04",)


@dataclass
class ProductionLab:
    specs: Path
    env: dict[str, str]

    def deploy(self, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO / "deploy.sh"), *args], cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env={**self.env, "EDUPRO_SPECS": str(self.specs)})

    def on(self, address: str, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-F", str(SSH_CONFIG), address, f"sudo sh -c {_quoted(command)}"],
                              capture_output=True, text=True, timeout=120)

    def verify(self, reports: Path, *args: str, specs: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_suite("--env", "production", f"--specs={specs or self.specs}", f"--reports-dir={reports}",
                         "--no-gate", "-q", "--release=2.0.0", *args,
                         env={**self.env, "EDUPRO_VERIFY_SECRETS": str(RUN_DIR / "qa-secrets-production.yaml"),
                              "EDUPRO_SPECS": str(specs or self.specs)})


def _quoted(command: str) -> str:
    return "'" + command.replace("'", "'\"'\"'") + "'"


def specs_naming_the_test_lab(folder: Path) -> Path:
    """A copy of the specs whose production profile names the tests' servers: every address of the shipped profile
    (.20-.23) replaced by the tests' (and the ssh_config of the tests' run directory)."""
    specs = folder / "specs"
    if specs.exists():
        shutil.rmtree(specs)
    shutil.copytree(REPO / "specs", specs)
    path = specs / "environments" / "production.yaml"
    text = path.read_text()
    for index, address in enumerate((WEB, APP1, APP2, DATA)):
        text = text.replace(f"172.31.240.{20 + index}", address)
    profile = yaml.safe_load(text)
    profile["target"]["ssh_config"] = str(SSH_CONFIG)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return specs


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionLab]:
    env = {**os.environ, "EDUPRO_LAB_ADDRESS": WEB, "EDUPRO_LAB_REGISTRY_ADDRESS": REGISTRY,
           "EDUPRO_RUN_DIR": str(RUN_DIR), "EDUPRO_PORT_OFFSET": ""}
    made = ProductionLab(specs_naming_the_test_lab(tmp_path_factory.mktemp("production-lab")), env)
    gone = made.deploy("lab", "down", "--env", "production")
    assert gone.returncode == 0, gone.stderr
    yield made
    made.deploy("lab", "down", "--env", "production")  # four servers' services would slow the tests after these


def test_production_from_nothing_is_deployed_tier_by_tier_and_verified_between_its_servers(
        lab: ProductionLab, tmp_path: Path) -> None:
    """`./deploy.sh verify --env production`: four servers made, each tier deployed, the report signed and naming
    every server; the reachability matrix, the balancing across both application servers, the network between
    the servers and TLS between the tiers measured there."""
    result = lab.deploy("verify", "--env", "production", "--no-gate", "-m", "not load", "-q", "-p", "no:cacheprovider",
                        f"--specs={lab.specs}", f"--reports-dir={tmp_path}")
    assert (tmp_path / "latest").exists(), f"no report written: {result.stdout[-1500:]}{result.stderr[-1500:]}"
    evidence = evidence_of(tmp_path)
    results = evidence["requirements"]
    hosts = evidence["target"]["hosts"]
    assert len(hosts) >= 4 and all(any(a in h for h in hosts) for a in (WEB, APP1, APP2, DATA)), hosts
    assert (tmp_path / "latest" / "MANIFEST.sha256.sig").exists(), "the report is not signed"
    not_passed = {r: results[r]["status"] + ": " + results[r]["reason"] for r in MUST_PASS
                  if results[r]["status"] != "passed"}
    assert not not_passed, f"{not_passed}\n{result.stdout[-2000:]}{result.stderr[-1500:]}"
    matrix = {m["what"]: m["value"] for m in results["PLAN-02"]["measured"] if isinstance(m["value"], dict)}
    print("reachability as measured:", matrix)
    print("production verified:", {s: sum(1 for v in results.values() if v["status"] == s)
                                    for s in sorted({v["status"] for v in results.values()})})
    FROM_THE_PROFILE_S_HOSTS.update(results)


FROM_THE_PROFILE_S_HOSTS: dict[str, Any] = {}  # the verdicts of the run above, for the inventory's run to match
INVENTORY = f"""# The production lab's servers as an Ansible inventory (what teams keep)
[web]
web1 ansible_host={WEB} ansible_user=deploy

[app]
app1 ansible_host={APP1} ansible_user=deploy
app2 ansible_host={APP2} ansible_user=deploy

[data]
data1 ansible_host={DATA} ansible_user=deploy
"""


def test_the_same_servers_from_an_ansible_inventory_give_the_same_verdicts(lab: ProductionLab, tmp_path: Path) -> None:
    """The profile names `target.inventory: hosts.ini` instead of listing target.hosts: the suite (and deploy.sh,
    which the release checks run) reach the same four servers, and every requirement gets the same verdict."""
    assert FROM_THE_PROFILE_S_HOSTS, "the run from the profile's host list did not finish (the test above)"
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    specs = specs_naming_the_test_lab(tmp_path)
    path = specs / "environments" / "production.yaml"
    profile = yaml.safe_load(path.read_text())
    del profile["target"]["hosts"]
    profile["target"]["inventory"] = str(inventory)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    result = lab.verify(tmp_path / "reports", "-m", "not load", specs=specs)
    assert (tmp_path / "reports" / "latest").exists(), f"no report: {result.stdout[-1500:]}{result.stderr[-1500:]}"
    evidence = evidence_of(tmp_path / "reports")
    assert all(any(a in h for h in evidence["target"]["hosts"]) for a in (WEB, APP1, APP2, DATA)), evidence["target"]
    differ = {rid: (FROM_THE_PROFILE_S_HOSTS[rid]["status"], r["status"], r["reason"][:200])
              for rid, r in evidence["requirements"].items() if rid not in LOAD_SENSITIVE
              and rid in FROM_THE_PROFILE_S_HOSTS and FROM_THE_PROFILE_S_HOSTS[rid]["status"] != r["status"]}
    assert not differ, f"verdicts (host list, inventory, the inventory run's reason): {differ}"
    assert set(evidence["requirements"]) == set(FROM_THE_PROFILE_S_HOSTS)


@pytest.mark.parametrize("fault", TIER_FAULTS, ids=[f.name for f in TIER_FAULTS])
def test_a_fault_on_one_tier_is_caught_and_undone(lab: ProductionLab, fault: ServerFault, tmp_path: Path) -> None:
    caught_and_healed(f"production-lab:{fault.name}", fault.breaks, lambda command: lab.on(fault.server, command),
                      fault.apply, fault.undo, lab.verify, tmp_path, fault.select)

"""Every fault of the catalogue, one at a time: the stack is broken through a real surface, the
matching scenarios must turn red, the fault is undone, and the same scenarios must be green again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.feature import get_features

from tests.conftest import TALLY
from tests.helpers import REPO, deploy, run_suite

from .catalogue import FAULTS, Fault
from .surfaces import Stack

RED = ("failed",)
GREEN = ("passed", "partly_verified")  # partly: a scenario the profile rules out here, as in a clean run


@pytest.fixture(scope="module", autouse=True)
def stack_up() -> None:
    result = deploy("up")
    assert result.returncode == 0, result.stderr


def verdicts(fault: Fault, reports: Path) -> dict[str, Any]:
    marks = " or ".join(f"REQ-{rid}" for rid in fault.requirements)
    result = run_suite("--env", "development", "--no-gate", "-m", marks, f"--reports-dir={reports}", "-q",
                       *fault.surface.suite_args())
    latest = reports / "latest" / "evidence.json"
    assert latest.exists(), f"the suite wrote no report: {result.stderr.strip()[-300:]}"
    requirements = json.loads(latest.read_text())["requirements"]
    return {rid: requirements.get(rid, {"status": "absent", "reason": ""}) for rid in fault.requirements}


def under_load() -> set[str]:
    """The requirements of the scenarios tagged @load: a fault on them is judged with the machine to itself."""
    return {tag.removeprefix("REQ-") for feature in get_features([str(REPO / "features")])
            for scenario in feature.scenarios.values() if "load" in scenario.tags
            for tag in scenario.tags if tag.startswith("REQ-")}


LOADED = under_load()


@pytest.mark.parametrize("fault", [pytest.param(f, marks=pytest.mark.quiet)
                                   if set(f.requirements) & LOADED or f.machine_wide else f
                                   for f in FAULTS], ids=[f.name for f in FAULTS])
def test_fault_is_caught_and_undone(fault: Fault, tmp_path: Path) -> None:
    stack = Stack()
    TALLY["injected"].append(fault.name)
    try:
        fault.surface.apply(stack)
        broken = verdicts(fault, tmp_path / "broken")
    finally:
        fault.surface.undo(stack)
    missed = {rid: f"{v['status']}: {v['reason']}" for rid, v in broken.items() if v["status"] not in RED}
    (TALLY["missed"] if missed else TALLY["caught"]).append(fault.name)
    assert not missed, f"{fault.name} ({fault.breaks}) was not caught by: {missed}"
    healed = verdicts(fault, tmp_path / "healed")
    not_green = {rid: f"{v['status']}: {v['reason']}" for rid, v in healed.items() if v["status"] not in GREEN}
    assert not not_green, f"after undoing {fault.name} the stack is not green again: {not_green}"

"""Container faults, one at a time, as tests/faults does for the local stack: the compose stack is broken
through Docker itself (a published port, a `latest` tag, a container without health check, a cache without
password, a container that does not restart or sits off the network, the daemon without live-restore, no docker
group; Docker's versions against a profile asking more), the matching scenarios must turn red, the fault is
undone, and they must be green again. They count in the `faults: N injected, M caught, K missed` line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TALLY
from tests.faults.surfaces import Thresholds
from tests.helpers import run_suite

from .conftest import COMPOSE_ENV
from .faults import FAULTS, ContainerFault

GREEN = ("passed", "partly_verified")  # partly: a scenario the profile rules out here, as in a clean run


def verdicts(fault: ContainerFault, reports: Path, broken: bool) -> dict[str, Any]:
    marks = " or ".join(f"REQ-{rid}" for rid in fault.requirements)
    specs = Thresholds(fault.thresholds)
    if broken and fault.thresholds:
        specs.apply(None)  # type: ignore[arg-type]  # the surface reads no stack
    try:
        result = run_suite("--env", "development", "--no-gate", "-m", marks, f"--reports-dir={reports}", "-q",
                           *specs.suite_args(), env=COMPOSE_ENV)
    finally:
        specs.undo(None)  # type: ignore[arg-type]
    latest = reports / "latest" / "evidence.json"
    assert latest.exists(), f"the suite wrote no report: {result.stderr.strip()[-300:]}"
    found = json.loads(latest.read_text())["requirements"]
    return {rid: found.get(rid, {"status": "absent", "reason": ""}) for rid in fault.requirements}


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_container_fault_is_caught_and_undone(fault: ContainerFault, compose_stack: dict[str, Any],
                                              tmp_path: Path) -> None:
    TALLY["injected"].append(fault.name)
    try:
        fault.apply(compose_stack)
        broken = verdicts(fault, tmp_path / "broken", broken=True)
    finally:
        fault.undo(compose_stack)
    missed = {rid: f"{v['status']}: {v['reason']}" for rid, v in broken.items() if v["status"] != "failed"}
    (TALLY["missed"] if missed else TALLY["caught"]).append(fault.name)
    assert not missed, f"{fault.name} ({fault.breaks}) was not caught by: {missed}"
    healed = verdicts(fault, tmp_path / "healed", broken=False)
    not_green = {rid: f"{v['status']}: {v['reason']}" for rid, v in healed.items() if v["status"] not in GREEN}
    assert not not_green, f"after undoing {fault.name} the stack is not green again: {not_green}"

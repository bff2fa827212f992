"""Every requirement of specs/requirements.yaml has a fault that turns it red, on whichever surface it lives (the
local stack, its containers, a server, a tier of the production lab), or a stated reason why not."""

from __future__ import annotations

import yaml

from tests.compose.faults import FAULTS as CONTAINER_FAULTS
from tests.faults.catalogue import FAULTS, NOT_INJECTED
from tests.helpers import REPO
from tests.lab.faults import SERVER_FAULTS, TIER_FAULTS

EVERY_FAULT = [*FAULTS, *CONTAINER_FAULTS, *SERVER_FAULTS, *TIER_FAULTS]


def test_every_requirement_has_a_fault_or_a_reason() -> None:
    requirements = set(yaml.safe_load((REPO / "specs" / "requirements.yaml").read_text()))
    faulted = {rid for fault in EVERY_FAULT for rid in fault.requirements}
    assert not faulted - requirements, f"faults name unknown requirements: {sorted(faulted - requirements)}"
    assert not set(NOT_INJECTED) & faulted, f"a reason is given for a faulted requirement: {sorted(set(NOT_INJECTED) & faulted)}"
    uncovered = requirements - faulted - set(NOT_INJECTED)
    assert not uncovered, f"requirements with neither a fault nor a reason: {sorted(uncovered)}"


def test_fault_names_are_unique() -> None:
    names = [fault.name for fault in EVERY_FAULT]
    assert len(names) == len(set(names))

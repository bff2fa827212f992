"""The timeline, approvals, go-live gate and compliance roll-ups (GOV-01, GOV-02, REL-04, COMP-*)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, when

from edupro_verify import chain
from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence, verdict
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.suite.run import Run

PHASE_LIMITS = {"planning": [1, 2], "setup": [3], "testing": [6], "release": [7]}


@when("the phase reports of this release are read from the report chain", target_fixture="phase_reports")
def read_chain(this_run: Run) -> dict[int, Any]:
    return chain.newest_verified(this_run.dir.parent, this_run.env, this_run.release, this_run.trust.qa_keys)


@then("each phase took no longer than the timeline allows")
def within_timeline(phase_reports: dict[int, Any], evidence: Evidence) -> None:
    missing = [p for phases in PHASE_LIMITS.values() for p in phases if p not in phase_reports]
    evidence.expect_none("phases without a verified report", missing,
                         message=f"no verified report of phase(s) {missing} for this release: the timeline cannot be shown")
    for name, phases in PHASE_LIMITS.items():
        if all(p in phase_reports for p in phases):  # a stage without its reports has no duration to measure
            evidence.expect(f"{name} duration", chain.span_seconds([phase_reports[p] for p in phases]), name)


@when("the approvals attached to the testing phase report are read", target_fixture="approvals")
def read_approvals(this_run: Run) -> dict[str, Any]:
    reports = chain.newest_verified(this_run.dir.parent, this_run.env, this_run.release, this_run.trust.qa_keys)
    if 6 not in reports:
        raise AssertionError("no verified report of phase 6 for this release carries approvals")
    valid, refused = chain.read_approvals(reports[6].folder, this_run.trust)
    return {"valid": valid, "refused": refused}


@then("technical, security and business approvals are all present and valid")
def all_approved(approvals: dict[str, Any], evidence: Evidence) -> None:
    valid, refused = approvals["valid"], approvals["refused"]
    evidence.record("approvers", {r: a.get("approver") for r, a in valid.items()})
    evidence.expect("approvals present", sorted({*valid, *refused}), "roles", requirement="GOV-02")
    evidence.expect_none("approvals present but not valid", sorted(refused.values()),
                         message="; ".join(sorted(refused.values())))


@when("the reports of phases 1 to 6 of this release are verified", target_fixture="phase_reports")
def verify_earlier(this_run: Run) -> dict[int, Any]:
    return chain.newest_verified(this_run.dir.parent, this_run.env, this_run.release, this_run.trust.qa_keys)


@then("each phase has a verified passing report")
def phases_passed(phase_reports: dict[int, Any], evidence: Evidence) -> None:
    state = {p: (phase_reports[p].verdict if p in phase_reports else "missing") for p in range(1, 7)}
    evidence.record("phase reports", {f"phase {p}": v for p, v in state.items()})
    bad = [f"phase {p} {v}" for p, v in state.items() if v != "passed"]
    evidence.expect_none("phase reports not passed", bad,
                         message=f"go-live gate closed: phase report(s) not passed: {', '.join(bad)}")


@then("the testing phase report carries all three approvals")
def testing_approved(phase_reports: dict[int, Any], this_run: Run, evidence: Evidence) -> None:
    evidence.expect_true("a verified report of phase 6", 6 in phase_reports, 6 in phase_reports, "present",
                         message="no verified report of phase 6 to carry the approvals")
    valid, refused = chain.read_approvals(phase_reports[6].folder, this_run.trust)
    evidence.expect("approvals on phase 6", sorted({*valid, *refused}), "roles", requirement="GOV-02")
    evidence.expect_none("approvals on phase 6 not valid", sorted(refused.values()),
                         message="; ".join(sorted(refused.values())))


@when(parsers.parse("the results of the controls mapped to {requirement} are collected"), target_fixture="mapped")
def collect_mapped(requirement: str, profile: Profile, this_run: Run) -> dict[str, str]:
    """Each control's result from this run, else from the newest verified report of its phase."""
    earlier = chain.newest_verified(this_run.dir.parent, this_run.env, this_run.release, this_run.trust.qa_keys)
    status: dict[str, str] = {}
    for rid in profile.requirements[requirement].maps_to:
        mine = [r.status for r in this_run.results if rid in r.requirements]
        phase = profile.requirements[rid].phase
        if rid in profile.not_applicable:
            status[rid] = "not_applicable"
        elif mine:
            status[rid] = verdict(mine)
        elif phase in earlier:
            recorded = chain.requirement_status(earlier[phase].folder, rid)
            status[rid] = f"{recorded} ({earlier[phase].folder.name})" if recorded != "passed" else "passed"
        else:
            status[rid] = "not run"
    return status


@then("every mapped control passed")
def mapped_passed(mapped: dict[str, str], evidence: Evidence) -> None:
    evidence.record("mapped controls", mapped)
    not_run = [k for k, v in mapped.items() if v == "not run"]
    failed = [f"{k} {v}" for k, v in mapped.items() if v.split()[0] in ("failed", "error", "waived")]
    evidence.expect_none("mapped controls not passed", failed, message=f"controls not passed: {', '.join(failed)}")
    if not_run:
        raise ProbeError(f"controls verified neither in this run nor in a verified report of this release: "
                         f"{', '.join(not_run)}")

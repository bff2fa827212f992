"""Quantities, the capacity formula and requirement summaries: pure functions, no stack."""

from datetime import date

import pytest

from edupro_verify.evidence import ScenarioResult, phase_verdicts, summarise
from edupro_verify.spec import load_profile
from edupro_verify.units import UnitError, parse, same_dimension
from edupro_verify.waivers import Waiver
from step_defs.host import capacity_plan


def test_quantities_convert_to_base_units() -> None:
    assert parse("100 ms").value == pytest.approx(0.1)
    assert parse("8 GB").value == 8e9
    assert parse("2.4 GHz").value == pytest.approx(2.4e9)
    assert parse("99.9 %").value == pytest.approx(0.999)
    assert parse("2 weeks").value == 14 * 86400


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(UnitError, match="known unit"):
        parse("100 parsecs")


def test_override_must_keep_the_dimension() -> None:
    assert same_dimension("100 ms", "2 s") is None
    assert "expected a duration" in str(same_dimension("100 ms", "100 GB"))
    assert "expected a number" in str(same_dimension(4, "four"))


def test_capacity_plan_follows_the_paper_for_500_users() -> None:
    plan = capacity_plan(load_profile("production"))
    # scaling factor 5; backend 2 cores x 5 x 1.2 = 12, memory 4 x 5 x 1.3 = 26, storage 20 x 5 x 1.5 = 150
    assert plan["backend"] == {"cores": 12, "memory_gb": 26, "storage_gb": 150}
    assert plan["nginx"] == {"cores": 6, "memory_gb": 7, "storage_gb": 38}


def _result(rid: str, status: str) -> ScenarioResult:
    return ScenarioResult(nodeid=rid + status, feature="f", scenario=f"{rid} {status}", requirements=[rid],
                          phase=1, status=status, reason=f"{status} reason")


def test_a_failure_outweighs_a_pass_and_gaps_are_not_covered() -> None:
    profile = load_profile("production")
    results = summarise(profile.requirements, [_result("HW-01", "passed"), _result("HW-01", "failed")], {1}, {})
    assert results["HW-01"].status == "failed"
    assert results["HW-02"].status == "not_covered"
    assert phase_verdicts(results)["1"]["verdict"] == "failed"


def test_waiver_applies_only_until_it_expires() -> None:
    profile = load_profile("production")
    waiver = Waiver(requirement="HW-01", justification="interim hardware for a week", approver="Lead",
                    expires=date(2026, 1, 31))
    before = summarise(profile.requirements, [_result("HW-01", "failed")], {1}, {}, [waiver], date(2026, 1, 1))
    after = summarise(profile.requirements, [_result("HW-01", "failed")], {1}, {}, [waiver], date(2026, 2, 1))
    assert before["HW-01"].status == "waived"
    assert after["HW-01"].status == "failed" and "expired" in after["HW-01"].reason

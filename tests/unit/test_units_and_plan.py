"""Quantities, the capacity formula and requirement summaries: pure functions, no stack."""

import json
from datetime import date

import psycopg
import pytest
from cryptography.fernet import Fernet

from edupro_verify.evidence import Evidence, ScenarioResult, phase_verdicts, summarise
from edupro_verify.probes.host import capacity_plan
from edupro_verify.probes.privacy import fernet_problem
from edupro_verify.spec import load_profile
from edupro_verify.suite.outcome import why
from edupro_verify.units import UnitError, parse, parse_limit, same_dimension
from edupro_verify.waivers import Waiver


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


def test_limits_say_their_comparator_and_keep_it() -> None:
    assert parse_limit(">= 2.4 GHz").holds(3.0e9) and not parse_limit(">= 2.4 GHz").holds(2.0e9)
    assert parse_limit("<= 100 ms").holds(0.1) and not parse_limit("< 100 ms").holds(0.1)
    assert parse_limit(">= 13.0", "min_version").holds("15.18") and not parse_limit(">= 20.10.0", "min_version").holds("20.9.9")
    assert parse_limit({"within": ["22/tcp", "443/tcp"]}).holds({"443/tcp"})
    assert not parse_limit({"includes": ["a", "b"]}).holds(["a"])
    with pytest.raises(UnitError, match="not a limit"):
        parse_limit("about 4")
    assert same_dimension(">= 4", ">= 2") is None
    assert "comparator must stay" in str(same_dimension("<= 100 ms", ">= 100 ms"))
    assert "expected a limit" in str(same_dimension("<= 100 ms", "100 ms"))
    assert "expected a duration" in str(same_dimension("<= 100 ms", "<= 100 GB"))


def test_utc_under_any_of_its_names_is_utc() -> None:
    zones = load_profile("production").limit("DB-08", "timezone")
    assert all(zones.holds([name]) for name in ("UTC", "Etc/UTC", "UCT", "Zulu"))
    assert not zones.holds(["Asia/Jakarta"])


def _evidence(requirement: str) -> Evidence:
    result = ScenarioResult(nodeid="n", feature="f", scenario="s", requirements=[requirement], phase=1)
    return Evidence(result, load_profile("production"))


def test_expect_compares_with_the_specs_and_records_structured_measurements() -> None:
    evidence = _evidence("HW-02")
    evidence.expect("memory", 16e9, "min_memory", source="web1")
    with pytest.raises(AssertionError, match=r"^db1: memory is 4 GB, the profile requires >= 8 GB$"):
        evidence.expect("memory", 4e9, "min_memory", source="db1")
    passed, failed = evidence.result.measurements
    assert (passed.value, passed.unit, passed.comparator, passed.limit, passed.verdict, passed.source) == (
        16.0, "GB", ">=", 8.0, "passed", "web1")
    assert failed.verdict == "failed" and failed.requirement == "HW-02"


def test_expect_on_collections_names_what_is_missing_or_not_allowed() -> None:
    evidence = _evidence("FW-01")
    with pytest.raises(AssertionError, match="inbound rules: 8080/tcp not allowed"):
        evidence.expect("inbound rules", {"22/tcp", "8080/tcp"}, "allowed_inbound")
    assert evidence.result.measurements[0].value == ["22/tcp", "8080/tcp"]


def test_capacity_plan_follows_the_paper_for_500_users() -> None:
    plan = capacity_plan(load_profile("production").requirements["PLAN-01"].thresholds)
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
    assert phase_verdicts(results)["1"].verdict == "failed"


def test_waiver_applies_only_until_it_expires() -> None:
    profile = load_profile("production")
    waiver = Waiver(requirement="HW-01", justification="interim hardware for a week", approver="Lead",
                    expires=date(2026, 1, 31))
    before = summarise(profile.requirements, [_result("HW-01", "failed")], {1}, {}, [waiver], date(2026, 1, 1))
    after = summarise(profile.requirements, [_result("HW-01", "failed")], {1}, {}, [waiver], date(2026, 2, 1))
    assert before["HW-01"].status == "waived"
    assert after["HW-01"].status == "failed" and "expired" in after["HW-01"].reason


def test_reasons_are_sentences_without_exception_names() -> None:
    undefined = psycopg.errors.UndefinedTable('relation "enrolments" does not exist\nLINE 1: ...')
    assert why(undefined) == "the database has no EduPro schema: table enrolments is missing"
    assert why(json.JSONDecodeError("Expecting value", "<html>", 0)).startswith("an answer of the target is not JSON")
    assert why(KeyError("version")) == "an answer of the target lacks the field 'version'"
    for error in (undefined, ValueError("odd"), KeyError("x"), json.JSONDecodeError("Expecting value", "", 0)):
        assert type(error).__name__ not in why(error)



def test_a_sealed_value_must_be_a_fernet_token_of_the_declared_key() -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Fernet(key.encode()).encrypt(b"ana.fixture@synthetic.edupro.invalid")
    assert fernet_problem(token, key) is None and fernet_problem(token, None) is None
    assert fernet_problem(token, other) == "not sealed with the declared key (HMAC does not verify)"
    assert "readable text" in str(fernet_problem(b"ana@example.org", key))
    assert "hex-encoded" in str(fernet_problem(b"ana@example.org".hex().encode(), key))
    assert "version byte" in str(fernet_problem(b"QUFBQUFBQUFB", key))
    assert "not a Fernet length" in str(fernet_problem(token[:-8], None))

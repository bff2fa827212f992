"""The plugin on its own, with pytester: a feature, a profile and steps in a temporary folder, no EduPro stack.

Each result the suite can give (passed, failed, error, not applicable, waived, not covered) comes out of a real
`pytest --env` run, with the evidence typed, the generated failure sentence and the exit code."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from edupro_verify import oscal, pdf, signing
from edupro_verify.evidence import schema

pytest_plugins = ["pytester"]

REQUIREMENTS = """
T-01: {title: enough widgets, phase: 1, severity: high, source: test, thresholds: {min_widgets: ">= 3"}}
T-02: {title: fast enough, phase: 1, severity: high, source: test, thresholds: {max_latency: "<= 100 ms"}}
T-03: {title: a check that cannot look, phase: 1, severity: low, source: test}
T-04: {title: not for this lab, phase: 1, severity: low, source: test}
T-05: {title: waived for now, phase: 1, severity: low, source: test, thresholds: {min_widgets: ">= 10"}}
T-06: {title: nobody wrote a scenario, phase: 1, severity: low, source: test}
T-07: {title: half of it applies here, phase: 1, severity: low, source: test, thresholds: {min_widgets: ">= 3"}}
T-08: {title: two shortfalls, phase: 1, severity: low, source: test, thresholds: {min_widgets: ">= 3", max_latency: "<= 100 ms"}}
T-09: {title: a shortfall and its consequence, phase: 1, severity: low, source: test, thresholds: {min_widgets: ">= 3"}}
"""
FEATURE = """@phase-1
Feature: the plugin's own lab
  @REQ-T-01
  Scenario: widgets are counted
    Then there are 5 widgets

  @REQ-T-02
  Scenario: latency is measured
    Then the latency is 250 ms

  @REQ-T-03
  Scenario: the probe cannot reach its subject
    Then the probe gives up

  @REQ-T-04
  Scenario: a check the profile rules out
    Then there are 5 widgets

  @REQ-T-05
  Scenario: a waived shortfall
    Then there are 5 widgets

  @REQ-T-07
  Scenario: the part that applies
    Then there are 5 widgets

  @REQ-T-07 @servers
  Scenario: the part for servers only
    Then there are 5 widgets

  @REQ-T-08
  Scenario: two shortfalls at once
    Then there are 1 widgets
    And the latency is 300 ms

  @REQ-T-09
  Scenario: a shortfall and what the step meets after it
    Then there are 2 widgets and their colours are read
"""
STEPS = """
from pytest_bdd import parsers, scenarios, then

from edupro_verify.errors import ProbeError
from edupro_verify.steps import then as suite_then

scenarios("lab.feature")


@suite_then(parsers.parse("there are {count:d} widgets and their colours are read"))
def widgets_and_colours(count, evidence):
    evidence.expect("widgets", count, "min_widgets")
    return {}["colours"]  # what a step meets once its expectation failed: a consequence, not a second verdict


@then(parsers.parse("there are {count:d} widgets"))
def widgets(count, evidence):
    evidence.record("widget colour", "blue", source="the lab")
    evidence.expect("widgets", count, "min_widgets", source="the lab")


@then(parsers.parse("the latency is {ms:d} ms"))
def latency(ms, evidence):
    evidence.expect("p95 latency", ms / 1000, "max_latency")


@then("the probe gives up")
def gives_up():
    raise ProbeError("the lab's probe is unreachable; add target.lab_probe to the profile")
"""


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    """Something to answer the preflight's GET / (the plugin refuses a target that is not there)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def lab(pytester: pytest.Pytester, web: str) -> Path:
    specs = pytester.path / "specs"
    (specs / "environments").mkdir(parents=True)
    (specs / "requirements.yaml").write_text(REQUIREMENTS)
    (specs / "environments" / "lab.yaml").write_text(
        f"description: the plugin's lab\ntarget: {{base_url: '{web}'}}\n"
        "load: {users: 1, spawn_rate: 1, duration: 1 s}\n"
        "not_applicable: {T-04: the lab has no such subject}\n"
        "not_applicable_tags: {servers: the lab runs no servers}\n")
    expires = date.today() + timedelta(days=30)
    (specs / "waivers.yaml").write_text(
        f"waivers:\n  - requirement: T-05\n    justification: widgets on order until next month\n"
        f"    approver: Lab Lead\n    expires: {expires}\n")
    (pytester.path / "features").mkdir()
    (pytester.path / "features" / "lab.feature").write_text(FEATURE)
    pytester.makeini("[pytest]\nbdd_features_base_dir = features\n")
    pytester.makeconftest('pytest_plugins = ["edupro_verify.plugin"]\n')
    pytester.makepyfile(test_lab=STEPS)
    (pytester.path / "secrets.yaml").write_text("{}\n")
    return specs


def run(pytester: pytest.Pytester, specs: Path, monkeypatch: pytest.MonkeyPatch,
        pdf: bool = False) -> tuple[pytest.RunResult, dict]:
    monkeypatch.setenv("EDUPRO_VERIFY_SECRETS", str(pytester.path / "secrets.yaml"))
    monkeypatch.delenv("EDUPRO_SIGNING_KEY", raising=False)
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess("--env", "lab", f"--specs={specs}", f"--reports-dir={reports}",
                                           "--release=lab-1", "-p", "no:cacheprovider", "-p", "no:randomly",
                                           *([] if pdf else ["--no-pdf"]))
    evidence = json.loads((reports / "latest" / "evidence.json").read_text())
    return result, evidence


def test_every_result_comes_out_of_a_run(pytester: pytest.Pytester, lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, evidence = run(pytester, lab, monkeypatch, pdf=True)
    statuses = {rid: r["status"] for rid, r in evidence["requirements"].items()}
    assert statuses == {"T-01": "passed", "T-02": "failed", "T-03": "error", "T-04": "not_applicable",
                        "T-05": "waived", "T-06": "not_covered", "T-07": "partly_verified", "T-08": "failed",
                        "T-09": "failed"}
    assert evidence["requirements"]["T-07"]["reason"] == ("1 of 2 scenarios verified it; not applicable here: "
                                                          "the part for servers only (the lab runs no servers)")
    assert result.ret == 1  # a failed check makes the run fail
    jsonschema.validate(evidence, schema())
    latest = pytester.path / "reports" / "latest"
    statement = json.loads(base64.b64decode(json.loads((latest / "attestation.intoto.json").read_text())["payload"]))
    assert statement["subject"][0]["digest"]["sha256"] == hashlib.sha256((latest / "evidence.json").read_bytes()).hexdigest()
    predicate = statement["predicate"]
    assert (predicate["result"], predicate["passedTests"], predicate["warnedTests"], predicate["failedTests"]) == (
        "FAILED", ["T-01"], ["T-05", "T-07"], ["T-02", "T-03", "T-06", "T-08", "T-09"])
    assert "  attestation.intoto.json\n" in (latest / "MANIFEST.sha256").read_text()
    junit = (latest / "junit.xml").read_text()
    assert '<property name="requirements" value="T-07" />' in junit and '<property name="phase" value="1" />' in junit
    assert_oscal(latest, pytester.path / "trestle")
    assert_pdf(latest)


def assert_pdf(run: Path) -> None:
    """report.pdf: A4 pages numbered, every requirement ID in its text, signed with the rest."""
    text = subprocess.run(["pdftotext", "-layout", str(run / pdf.FILE), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert all(f"T-0{n}" in text for n in range(1, 10)), text[:2000]
    assert "page 1 of" in text and "release lab-1" in text
    info = subprocess.run(["pdfinfo", str(run / pdf.FILE)], capture_output=True, text=True, check=True).stdout
    assert "595.92 x 842.88 pts (A4)" in info or "(A4)" in info, info
    assert f"  {pdf.FILE}\n" in (run / "MANIFEST.sha256").read_text()


def assert_oscal(run: Path, workspace: Path) -> None:
    """assessment-results.json: valid by trestle's own validator, a finding per requirement with its status,
    its observations linked, in the signed manifest, and a change to it caught by verify."""
    document = json.loads((run / oscal.FILE).read_text())["assessment-results"]
    findings = {f["target"]["target-id"]: f for f in document["results"][0]["findings"]}
    states = {rid: (f["target"].get("status", {}).get("state"), f["target"].get("implementation-status", {}).get("state"))
              for rid, f in findings.items()}
    assert states == {"T-01": ("satisfied", "implemented"), "T-02": ("not-satisfied", None),
                      "T-03": ("not-satisfied", None), "T-04": (None, "not-applicable"),
                      "T-05": ("not-satisfied", None), "T-06": ("not-satisfied", None), "T-07": (None, "partial"),
                      "T-08": ("not-satisfied", None), "T-09": ("not-satisfied", None)}
    observed = {o["uuid"] for o in document["results"][0]["observations"]}
    assert findings["T-02"]["related-observations"] and all(
        r["observation-uuid"] in observed for r in findings["T-02"]["related-observations"])
    assert "waived by Lab Lead" in findings["T-05"]["remarks"]
    workspace.mkdir()
    trestle = str(Path(sys.executable).parent / "trestle")
    for command in (["init"], ["import", "-f", str(run / oscal.FILE), "-o", "run"], ["validate", "-a"]):
        done = subprocess.run([trestle, *command], cwd=workspace, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID" in done.stdout
    assert f"  {oscal.FILE}\n" in (run / "MANIFEST.sha256").read_text()
    (run / oscal.FILE).write_text((run / oscal.FILE).read_text().replace('"satisfied"', '"not-satisfied"'))
    assert f"changed: {oscal.FILE}" in signing.verify(run, None).lines()


def test_the_failure_sentence_is_generated_from_the_spec(pytester: pytest.Pytester, lab: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, evidence = run(pytester, lab, monkeypatch)
    reasons = {rid: r["reason"] for rid, r in evidence["requirements"].items()}
    assert reasons["T-02"] == "latency is measured: p95 latency is 250 ms, the profile requires <= 100 ms"
    assert reasons["T-03"] == ("the probe cannot reach its subject: could not run: the lab's probe is unreachable; "
                               "add target.lab_probe to the profile")
    assert reasons["T-04"] == "the lab has no such subject"
    assert "waived until" in reasons["T-05"] and "Lab Lead" in reasons["T-05"]
    assert "Error" not in json.dumps(reasons)  # no exception class names reach a report


def test_a_scenario_reports_every_expectation_that_failed(pytester: pytest.Pytester, lab: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The first Then step's shortfall does not hide the second's; the terminal says each failed requirement in one
    line and shows no traceback unless --tb asks for it."""
    result, evidence = run(pytester, lab, monkeypatch)
    assert evidence["requirements"]["T-08"]["reason"] == (
        "two shortfalls at once: the lab: widgets is 1, the profile requires >= 3; "
        "p95 latency is 300 ms, the profile requires <= 100 ms")
    assert evidence["requirements"]["T-09"]["reason"] == (
        "a shortfall and what the step meets after it: widgets is 2, the profile requires >= 3")
    out = result.stdout.str()
    assert "  FAILED       T-08: two shortfalls at once: the lab: widgets is 1" in out
    assert "Traceback" not in out and "def widgets" not in out and "AssertionError" not in out, out


def test_measurements_are_data(pytester: pytest.Pytester, lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, evidence = run(pytester, lab, monkeypatch)
    widgets = evidence["requirements"]["T-01"]["measured"]
    assert all(datetime.fromisoformat(m.pop("at")).tzinfo for m in widgets)  # when each was observed, in UTC
    assert widgets == [
        {"what": "widget colour", "value": "blue", "unit": "", "comparator": None, "limit": None,
         "verdict": "recorded", "source": "the lab", "requirement": None},
        {"what": "widgets", "value": 5, "unit": "", "comparator": ">=", "limit": 3, "verdict": "passed",
         "source": "the lab", "requirement": "T-01"}]
    latency = evidence["requirements"]["T-02"]["measured"][0]
    assert (latency["value"], latency["unit"], latency["limit"], latency["verdict"]) == (250.0, "ms", 100.0, "failed")
    assert evidence["requirements"]["T-05"]["measured"][1]["limit"] == 10  # the waived requirement's own limit


def test_a_bad_comparator_is_refused_at_load(pytester: pytest.Pytester, lab: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (lab / "requirements.yaml").write_text(REQUIREMENTS.replace('">= 3"', '"=> 3"'))
    monkeypatch.setenv("EDUPRO_VERIFY_SECRETS", str(pytester.path / "secrets.yaml"))
    result = pytester.runpytest_subprocess("--env", "lab", f"--specs={lab}", "-p", "no:cacheprovider")
    assert result.ret == 4
    assert "requirements.yaml: T-01.min_widgets: '=> 3' is not a limit" in result.stderr.str()


def test_the_release_comes_from_the_operator_never_from_the_target(pytester: pytest.Pytester, lab: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A target that no deploy tool here describes: without --release and without a signed phase report of the
    environment, the run is refused with the option to use; with --release the report carries it."""
    monkeypatch.setenv("EDUPRO_VERIFY_SECRETS", str(pytester.path / "secrets.yaml"))
    refused = pytester.runpytest_subprocess("--env", "lab", f"--specs={lab}", "-p", "no:cacheprovider")
    assert refused.ret == 4
    assert "name the release under verification: pytest --env lab --release VERSION" in refused.stderr.str()
    _, evidence = run(pytester, lab, monkeypatch)
    assert evidence["run"]["release"] == "lab-1"

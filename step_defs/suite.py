"""The suite's own reporting machinery, exercised with this run's results (RPT-01..04)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, then, when

from edupro_verify import chain, signing
from edupro_verify.evidence import Evidence, Measurement, ScenarioResult, phase_verdicts, summarise
from edupro_verify.plugin import RESULTS, TARGET, build_evidence
from edupro_verify.report import render_html, write_run
from edupro_verify.spec import SpecError
from edupro_verify.targets import Target
from edupro_verify.waivers import Waiver
from edupro_verify.waivers import load as load_waivers

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


@pytest.fixture
def scratch_reports() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="edupro-report-") as folder:
        yield Path(folder)


def write_folder(request: pytest.FixtureRequest, scratch_reports: Path, extra: list[ScenarioResult] | None = None) -> Path:
    config = request.config
    saved = list(config.stash[RESULTS])
    config.stash[RESULTS].extend(extra or [])
    try:
        evidence = build_evidence(config)
    finally:
        config.stash[RESULTS][:] = saved
    folder = scratch_reports / "run"
    folder.mkdir()
    return write_run(folder, evidence, config.stash[TARGET].secrets.values())


@when("a run folder is written for the results so far", target_fixture="folder")
def folder_so_far(request: pytest.FixtureRequest, scratch_reports: Path) -> Path:
    return write_folder(request, scratch_reports)


@then("it holds a self-contained report.html and evidence.json")
def has_reports(folder: Path, evidence: Evidence) -> None:
    html = (folder / "report.html").read_text()
    evidence.measure("files", sorted(p.name for p in folder.iterdir()))
    assert (folder / "evidence.json").is_file(), "no evidence.json"
    assert "<table" in html, "report.html has no tables"
    external = EXTERNAL.findall(html)
    assert not external, f"report.html loads external resources: {external[:3]}"


@then("this run writes junit.xml and cucumber.json into its folder")
def configured_outputs(request: pytest.FixtureRequest, run_info: dict[str, Any], evidence: Evidence) -> None:
    option = request.config.option
    outputs = {"junit.xml": option.xmlpath, "cucumber.json": option.cucumber_json_path}
    evidence.measure("configured outputs", outputs)
    wrong = [n for n, p in outputs.items() if Path(p or "") != run_info["dir"] / n]
    assert not wrong, f"not written into the run folder: {', '.join(wrong)}"


@then("the folder verifies with the signer's key, with our tool and with openssl and sha256sum")
def verifies(folder: Path, evidence: Evidence) -> None:
    ours = signing.verify(folder)
    assert ours.ok, f"our verification fails: {ours.lines()}"
    openssl = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", signing.SIGNER, "-rawin",
                              "-in", signing.MANIFEST, "-sigfile", signing.SIGNATURE], cwd=folder, capture_output=True, text=True)
    sums = subprocess.run(["sha256sum", "--check", "--strict", "--quiet", signing.MANIFEST], cwd=folder,
                          capture_output=True, text=True)
    evidence.measure("openssl / sha256sum", f"{openssl.stdout.strip()} / exit {sums.returncode}", "Signature Verified Successfully / 0")
    assert openssl.returncode == 0, f"openssl does not verify the signature: {openssl.stderr.strip()[:120]}"
    assert sums.returncode == 0, f"sha256sum finds changed files: {sums.stdout.strip()[:120]}"


@then("a one-byte change, a removed file and an added file are each detected")
def tampering(folder: Path, scratch_reports: Path, evidence: Evidence) -> None:
    caught = {}
    for case in ("one byte", "removed", "added", "signature"):
        copy = Path(shutil.copytree(folder, scratch_reports / case.replace(" ", "-")))
        if case == "one byte":
            data = bytearray((copy / "evidence.json").read_bytes())
            data[len(data) // 2] ^= 1
            (copy / "evidence.json").write_bytes(bytes(data))
        elif case == "removed":
            (copy / "report.html").unlink()
        elif case == "added":
            (copy / "note.txt").write_text("added after signing\n")
        else:
            sig = bytearray((copy / signing.SIGNATURE).read_bytes())
            sig[0] ^= 1
            (copy / signing.SIGNATURE).write_bytes(bytes(sig))
        caught[case] = signing.verify(copy).lines()
    evidence.measure("tampering detected", caught)
    missed = [c for c, lines in caught.items() if not lines]
    assert not missed, f"tampering not detected: {', '.join(missed)}"


@then("every requirement in scope has a row with its scenarios, result and evidence")
def traceable(folder: Path, request: pytest.FixtureRequest, evidence: Evidence) -> None:
    data = json.loads((folder / "evidence.json").read_text())
    html = (folder / "report.html").read_text()
    rows = {rid for rid in data["requirements"] if f"id='req-{rid}'" in html}
    evidence.measure("requirements with a row", f"{len(rows)} of {len(data['requirements'])}")
    assert rows == set(data["requirements"]), f"requirements without a row: {sorted(set(data['requirements']) - rows)}"
    fields = {"status", "reason", "scenarios", "measured", "threshold"}
    lacking = [rid for rid, r in data["requirements"].items() if not fields <= set(r)]
    assert not lacking, f"requirements without traceability fields: {lacking[:5]}"


@then("a requirement without a scenario is shown as not covered")
def uncovered(folder: Path) -> None:
    data = json.loads((folder / "evidence.json").read_text())
    for rid, r in data["requirements"].items():
        if not r["scenarios"] and r["status"] not in ("not_covered",):
            raise AssertionError(f"{rid} has no scenario but reads {r['status']}")


@when("a run folder is written for results that quote the target's secrets", target_fixture="leaky")
def leaky_folder(request: pytest.FixtureRequest, scratch_reports: Path, target: Target) -> dict[str, Any]:
    secrets = target.secrets.values()
    quoting = ScenarioResult(nodeid="suite::leak", feature="suite.feature", scenario="a result quoting secrets",
                             requirements=["RPT-04"], phase=0, status="failed",
                             reason=f"password was {secrets[0] if secrets else ''}",
                             measurements=[Measurement("dsn", f"postgresql://u:{s}@db/x") for s in secrets])
    return {"folder": write_folder(request, scratch_reports, [quoting]), "secrets": secrets}


@then("no file of the folder contains any of the secret values")
def no_secrets(leaky: dict[str, Any], evidence: Evidence) -> None:
    found = [f"{p.name}" for p in leaky["folder"].rglob("*") if p.is_file()
             for s in leaky["secrets"] if s.encode() in p.read_bytes()]
    evidence.measure("secret values searched", len(leaky["secrets"]))
    evidence.measure("files containing a secret", found, "none")
    assert leaky["secrets"], "the target's secrets are unknown, so the reports cannot be searched for them"
    assert not found, f"secrets found in: {', '.join(sorted(set(found)))}"


def phase_folder(reports: Path, name: str, request: pytest.FixtureRequest, phase: int, verdict: str) -> Path:
    """A real run folder (this run's writer and signer), relabelled as a report of PHASE with VERDICT."""
    config = request.config
    evidence = build_evidence(config)
    evidence["phases"] = {str(phase): {"verdict": verdict, "counts": {}}}
    folder = reports / name
    folder.mkdir(parents=True)
    return write_run(folder, evidence, config.stash[TARGET].secrets.values())


@given("a report folder of phase 2 for this environment and release", target_fixture="gate_case")
def phase_two(request: pytest.FixtureRequest, scratch_reports: Path, run_info: dict[str, Any]) -> dict[str, Any]:
    folder = phase_folder(scratch_reports / "reports", "20000101T000000Z-phase-2", request, 2, "passed")
    return {"reports": scratch_reports / "reports", "folder": folder, "env": run_info["env"], "release": run_info["release"]}


def gate_of(case: dict[str, Any], phase: int) -> dict[str, Any] | str:
    try:
        return chain.gate(case["reports"], case["env"], case["release"], phase)
    except chain.GateClosed as error:
        return f"closed: {error}"


@then("the gate of phase 3 opens on it and records its manifest digest")
def gate_opens(gate_case: dict[str, Any], evidence: Evidence) -> None:
    result = gate_of(gate_case, 3)
    evidence.measure("gate of phase 3", result)
    assert isinstance(result, dict), f"the gate stays closed on a passing phase 2 report: {result}"
    assert result["predecessor_manifest_sha256"] == chain.manifest_digest(gate_case["folder"]), "the digest is not recorded"


@then("the gate of phase 3 closes when that report is tampered with")
def gate_tampered(gate_case: dict[str, Any], evidence: Evidence) -> None:
    page = gate_case["folder"] / "report.html"
    original = page.read_bytes()
    page.write_bytes(original.replace(b"<main>", b"<main> "))
    try:
        result = gate_of(gate_case, 3)
    finally:
        page.write_bytes(original)
    evidence.measure("gate on a tampered report", result)
    assert isinstance(result, str), "the gate opens on a tampered report"


@then("the gate of phase 3 closes when the phase 2 report failed")
def gate_failed(gate_case: dict[str, Any], request: pytest.FixtureRequest, evidence: Evidence) -> None:
    phase_folder(gate_case["reports"], "20000102T000000Z-phase-2", request, 2, "failed")
    result = gate_of(gate_case, 3)
    evidence.measure("gate on a failed report", result)
    assert isinstance(result, str), "the gate opens on a failed phase 2 report"


@then("the gate of phase 4 closes without a phase 3 report")
def gate_missing(gate_case: dict[str, Any], evidence: Evidence) -> None:
    result = gate_of(gate_case, 4)
    evidence.measure("gate of phase 4", result)
    assert isinstance(result, str) and "missing" in result, f"the gate of phase 4 opens without phase 3: {result}"


@given("a failed requirement with a valid waiver and another with an expired one", target_fixture="waived")
def waived_results(profile: Any) -> dict[str, Any]:
    today = date.today()
    failing = [ScenarioResult(nodeid=f"x::{rid}", feature="x", scenario=f"{rid} check", requirements=[rid], phase=1,
                              status="failed", reason="measured below the threshold") for rid in ("HW-01", "HW-02")]
    waivers = [Waiver(requirement="HW-01", justification="interim hardware until the servers arrive",
                      approver="DevOps Team Lead", expires=today + timedelta(days=30)),
               Waiver(requirement="HW-02", justification="interim hardware until the servers arrive",
                      approver="DevOps Team Lead", expires=today - timedelta(days=1))]
    results = summarise(profile.requirements, failing, {1}, {}, waivers, today)
    return {"results": results, "html": render_html({
        "run": {"id": "w", "env": "x", "release": "r", "started": "", "finished": "", "suite_version": ""},
        "signature": {"signer": "", "qa_key": True, "note": ""}, "target": {"base_url": "", "driver": ""},
        "phases": phase_verdicts(results), "profile": {"relaxed": {}, "not_applicable": {}}, "tools": {},
        "requirements": {k: vars(v) for k, v in results.items()}})}


@then("the first reads waived, with its waiver, and stays in the report")
def first_waived(waived: dict[str, Any], evidence: Evidence) -> None:
    first = waived["results"]["HW-01"]
    evidence.measure("HW-01 under a valid waiver", f"{first.status}: {first.reason}")
    assert first.status == "waived" and first.waiver and first.waiver["approver"], "a valid waiver is not applied"
    assert "id='req-HW-01'" in waived["html"] and "waived" in waived["html"], "the waived result is not visible"


@then("the second keeps its failure and says its waiver expired")
def second_expired(waived: dict[str, Any], evidence: Evidence) -> None:
    second = waived["results"]["HW-02"]
    evidence.measure("HW-02 under an expired waiver", f"{second.status}: {second.reason}")
    assert second.status == "failed" and "expired" in second.reason, "an expired waiver still counts"


@then("a waiver file without a justification is refused, naming its line")
def malformed_waiver(scratch_reports: Path, profile: Any, evidence: Evidence) -> None:
    bad = scratch_reports / "waivers.yaml"
    bad.write_text("waivers:\n  - requirement: HW-01\n    approver: DevOps Team Lead\n    expires: 2030-01-01\n")
    try:
        load_waivers(bad, set(profile.requirements))
        message = ""
    except SpecError as error:
        message = str(error)
    evidence.measure("malformed waiver file", message)
    assert "line 2" in message and "justification" in message, f"the malformed waiver is not refused clearly: {message!r}"

"""The suite's own reporting machinery, exercised with this run's results (RPT-01..04)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytest_bdd import given, when

from edupro_verify import chain, signing
from edupro_verify.evidence import Evidence, Measurement, PhaseVerdict, ScenarioResult, Signature, read, summarise
from edupro_verify.report import render_html, write_run
from edupro_verify.spec import SpecError
from edupro_verify.steps import then
from edupro_verify.suite.run import Run
from edupro_verify.waivers import Waiver
from edupro_verify.waivers import load as load_waivers

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


@pytest.fixture
def scratch_reports() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="edupro-report-") as folder:
        yield Path(folder)


def write_folder(this_run: Run, scratch_reports: Path, extra: list[ScenarioResult] | None = None) -> Path:
    folder = scratch_reports / "run"
    folder.mkdir()
    return write_run(folder, this_run.evidence(extra), this_run.target.secrets.values(), this_run.trust)


@when("a run folder is written for the results so far", target_fixture="folder")
def folder_so_far(this_run: Run, scratch_reports: Path) -> Path:
    return write_folder(this_run, scratch_reports)


@then("it holds a self-contained report.html and evidence.json")
def has_reports(folder: Path, evidence: Evidence) -> None:
    html = (folder / "report.html").read_text()
    files = sorted(p.name for p in folder.iterdir())
    evidence.expect_true("files", files, "evidence.json" in files and "report.html" in files,
                         "evidence.json and report.html", message="no evidence.json or report.html")
    evidence.expect_true("tables in report.html", html.count("<table"), "<table" in html, "at least one",
                         message="report.html has no tables")
    external = EXTERNAL.findall(html)
    evidence.expect_none("external resources loaded by report.html", external[:3],
                         message=f"report.html loads external resources: {external[:3]}")


@then("this run writes junit.xml and cucumber.json into its folder")
def configured_outputs(request: pytest.FixtureRequest, this_run: Run, evidence: Evidence) -> None:
    option = request.config.option
    outputs = {"junit.xml": option.xmlpath, "cucumber.json": option.cucumber_json_path}
    evidence.record("configured outputs", outputs)
    wrong = [n for n, p in outputs.items() if Path(p or "") != this_run.dir / n]
    evidence.expect_none("outputs not written into the run folder", wrong,
                         message=f"not written into the run folder: {', '.join(wrong)}")


@then("the folder verifies with the signer's key, with our tool and with openssl and sha256sum")
def verifies(folder: Path, evidence: Evidence) -> None:
    ours = signing.verify(folder, None)  # integrity, with the folder's own key
    evidence.expect_none("edupro-verify findings", ours.lines(), message=f"our verification fails: {ours.lines()}")
    tools = signing.verify_with_standard_tools(folder)
    for tool, (code, output) in tools.items():
        evidence.expect_true(tool, {"exit": code, "output": output or "none"}, code == 0, "exit 0",
                             message=f"{tool} does not verify the folder: {output}")


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
        caught[case] = signing.verify(copy, None).lines()
    evidence.record("findings per tampering", caught)
    missed = [c for c, lines in caught.items() if not lines]
    evidence.expect_none("tampering not detected", missed, message=f"tampering not detected: {', '.join(missed)}")


@then("every requirement in scope has a row with its scenarios, result and evidence")
def traceable(folder: Path, evidence: Evidence) -> None:
    document = read(folder / "evidence.json")  # also proves the file is a valid evidence document
    html = (folder / "report.html").read_text()
    without = sorted(rid for rid in document.requirements if f"id='req-{rid}'" not in html)
    evidence.record("requirements in the matrix", len(document.requirements) - len(without))
    evidence.expect_none("requirements without a row", without,
                         message=f"requirements without a row: {without}")
    unjudged = [f"{rid}: {m.what}" for rid, r in document.requirements.items() for m in r.measured
                if m.verdict not in ("passed", "failed", "recorded")]
    evidence.expect_none("measurements without a verdict", unjudged[:5])


@then("a requirement without a scenario is shown as not covered")
def uncovered(folder: Path, evidence: Evidence) -> None:
    document = read(folder / "evidence.json")
    wrong = [f"{rid} reads {r.status}" for rid, r in document.requirements.items()
             if not r.scenarios and r.status != "not_covered"]
    evidence.expect_none("requirements without a scenario shown otherwise than not covered", wrong,
                         message=f"without a scenario but: {', '.join(wrong)}")


@when("a run folder is written for results that quote the target's secrets", target_fixture="leaky")
def leaky_folder(this_run: Run, scratch_reports: Path) -> dict[str, Any]:
    secrets = this_run.target.secrets.values()
    quoting = ScenarioResult(nodeid="suite::leak", feature="suite.feature", scenario="a result quoting secrets",
                             requirements=["RPT-04"], phase=0, status="failed",
                             reason=f"password was {secrets[0] if secrets else ''}",
                             measurements=[Measurement(what="dsn", value=f"postgresql://u:{s}@db/x", verdict="recorded")
                                           for s in secrets])
    return {"folder": write_folder(this_run, scratch_reports, [quoting]), "secrets": secrets}


@then("no file of the folder contains any of the secret values")
def no_secrets(leaky: dict[str, Any], evidence: Evidence) -> None:
    found = [f"{p.name}" for p in leaky["folder"].rglob("*") if p.is_file()
             for s in leaky["secrets"] if s.encode() in p.read_bytes()]
    evidence.expect_true("secret values searched", len(leaky["secrets"]), bool(leaky["secrets"]), "at least one",
                         message="the target's secrets are unknown, so the reports cannot be searched for them")
    evidence.expect_none("files containing a secret", sorted(set(found)),
                         message=f"secrets found in: {', '.join(sorted(set(found)))}")


def phase_folder(reports: Path, name: str, this_run: Run, phase: int, verdict: str, key: Ed25519PrivateKey) -> Path:
    """A real run folder (this run's writer), signed with KEY and relabelled as a report of PHASE with VERDICT."""
    document = this_run.evidence()
    document.phases = {str(phase): PhaseVerdict(verdict=verdict, counts={})}  # type: ignore[arg-type]
    folder = reports / name
    folder.mkdir(parents=True)
    return write_run(folder, document, this_run.target.secrets.values(), this_run.trust, key=key)


@given("a report folder of phase 2 for this environment and release, signed by a pinned key", target_fixture="gate_case")
def phase_two(this_run: Run, scratch_reports: Path) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()  # the scratch chain's QA key, pinned for these checks only
    folder = phase_folder(scratch_reports / "reports", "20000101T000000Z-phase-2", this_run, 2, "passed", key)
    return {"reports": scratch_reports / "reports", "folder": folder, "env": this_run.env, "release": this_run.release,
            "key": key, "trusted": [key.public_key()]}


def gate_of(case: dict[str, Any], phase: int, trusted: list[Any] | None = None) -> chain.Gate | str:
    try:
        return chain.gate(case["reports"], case["env"], case["release"], phase,
                          case["trusted"] if trusted is None else trusted)
    except chain.GateClosed as error:
        return f"closed: {error}"


@then("the gate of phase 3 opens on it and records its manifest digest")
def gate_opens(gate_case: dict[str, Any], evidence: Evidence) -> None:
    result = gate_of(gate_case, 3)
    opened = not isinstance(result, str)
    evidence.expect_true("gate of phase 3", result, opened, "open",
                         message=f"the gate stays closed on a passing phase 2 report: {result}")
    recorded = getattr(result, "predecessor_manifest_sha256", None) == chain.manifest_digest(gate_case["folder"])
    evidence.expect_true("predecessor's manifest digest", recorded, recorded, "recorded",
                         message="the digest is not recorded")


@then("the gate of phase 3 closes when that report's key is not pinned")
def gate_unpinned(gate_case: dict[str, Any], evidence: Evidence) -> None:
    result = gate_of(gate_case, 3, trusted=[Ed25519PrivateKey.generate().public_key()])
    evidence.expect_true("gate on a report signed by a key not pinned", result, isinstance(result, str), "closed",
                         message="the gate opens on a report whose key is not pinned")


@then("the gate of phase 3 closes when that report is tampered with")
def gate_tampered(gate_case: dict[str, Any], evidence: Evidence) -> None:
    page = gate_case["folder"] / "report.html"
    original = page.read_bytes()
    page.write_bytes(original.replace(b"<main>", b"<main> "))
    try:
        result = gate_of(gate_case, 3)
    finally:
        page.write_bytes(original)
    evidence.expect_true("gate on a tampered report", result, isinstance(result, str), "closed",
                         message="the gate opens on a tampered report")


@then("the gate of phase 3 closes when the phase 2 report failed")
def gate_failed(gate_case: dict[str, Any], this_run: Run, evidence: Evidence) -> None:
    phase_folder(gate_case["reports"], "20000102T000000Z-phase-2", this_run, 2, "failed", gate_case["key"])
    result = gate_of(gate_case, 3)
    evidence.expect_true("gate on a failed report", result, isinstance(result, str), "closed",
                         message="the gate opens on a failed phase 2 report")


@then("the gate of phase 4 closes without a phase 3 report")
def gate_missing(gate_case: dict[str, Any], evidence: Evidence) -> None:
    result = gate_of(gate_case, 4)
    evidence.expect_true("gate of phase 4", result, isinstance(result, str) and "missing" in result,
                         "closed, phase 3 missing", message=f"the gate of phase 4 opens without phase 3: {result}")


@given("a failed requirement with a valid waiver and another with an expired one", target_fixture="waived")
def waived_results(profile: Any, this_run: Run) -> dict[str, Any]:
    today = date.today()
    failing = [ScenarioResult(nodeid=f"x::{rid}", feature="x", scenario=f"{rid} check", requirements=[rid], phase=1,
                              status="failed", reason="measured below the threshold") for rid in ("HW-01", "HW-02")]
    waivers = [Waiver(requirement="HW-01", justification="interim hardware until the servers arrive",
                      approver="DevOps Team Lead", expires=today + timedelta(days=30)),
               Waiver(requirement="HW-02", justification="interim hardware until the servers arrive",
                      approver="DevOps Team Lead", expires=today - timedelta(days=1))]
    results = summarise(profile.requirements, failing, {1}, {}, waivers, today)
    document = this_run.evidence()
    document.requirements = results
    document.signature = Signature(algorithm="Ed25519", signer="", qa_key=True, note="")
    return {"results": results, "html": render_html(document)}


@then("the first reads waived, with its waiver, and stays in the report")
def first_waived(waived: dict[str, Any], evidence: Evidence) -> None:
    first = waived["results"]["HW-01"]
    applied = first.status == "waived" and first.waiver is not None and bool(first.waiver.approver)
    evidence.expect_true("HW-01 under a valid waiver", {"status": first.status, "reason": first.reason}, applied,
                         "waived, with its approver", message="a valid waiver is not applied")
    shown = "id='req-HW-01'" in waived["html"] and "waived" in waived["html"]
    evidence.expect_true("waived result in the report", shown, shown, "visible", message="the waived result is not visible")


@then("the second keeps its failure and says its waiver expired")
def second_expired(waived: dict[str, Any], evidence: Evidence) -> None:
    second = waived["results"]["HW-02"]
    evidence.expect_true("HW-02 under an expired waiver", {"status": second.status, "reason": second.reason},
                         second.status == "failed" and "expired" in second.reason, "failed, waiver expired",
                         message="an expired waiver still counts")


@then("a waiver file without a justification is refused, naming its line")
def malformed_waiver(scratch_reports: Path, profile: Any, evidence: Evidence) -> None:
    bad = scratch_reports / "waivers.yaml"
    bad.write_text("waivers:\n  - requirement: HW-01\n    approver: DevOps Team Lead\n    expires: 2030-01-01\n")
    try:
        load_waivers(bad, set(profile.requirements))
        message = ""
    except SpecError as error:
        message = str(error)
    evidence.expect_true("malformed waiver file", message or "accepted", "line 2" in message and "justification" in message,
                         "refused, naming line 2 and the justification",
                         message=f"the malformed waiver is not refused clearly: {message!r}")

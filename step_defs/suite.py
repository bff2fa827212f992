"""The suite's own reporting machinery, exercised with this run's results (RPT-01..04)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import then, when

from edupro_verify import signing
from edupro_verify.evidence import Evidence, Measurement, ScenarioResult
from edupro_verify.plugin import RESULTS, TARGET, build_evidence
from edupro_verify.report import write_run
from edupro_verify.targets import Target

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

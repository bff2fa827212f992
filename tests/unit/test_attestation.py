"""The in-toto attestation of a run: a test-result Statement about evidence.json in a DSSE envelope, verified
offline by openssl with the commands the README gives (not by our code)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

from edupro_verify import attestation, signing

# The README's commands, run by bash in the run folder.
OFFLINE = """set -e
jq -r .payload attestation.intoto.json | base64 -d > statement.json
jq -r '.signatures[0].sig' attestation.intoto.json | base64 -d > statement.sig
T=application/vnd.in-toto+json
{ printf 'DSSEv1 %d %s %d ' ${#T} "$T" "$(stat -c %s statement.json)"; cat statement.json; } > pae.bin
openssl pkeyutl -verify -pubin -inkey signer.pub.pem -rawin -in pae.bin -sigfile statement.sig
"""


def folder(tmp_path: Path, statuses: dict[str, str]) -> Path:
    signing.keygen(tmp_path / "qa.key")
    key = signing.load_private(tmp_path / "qa.key")
    run = tmp_path / "run"
    run.mkdir()
    (run / "evidence.json").write_text('{"requirements": {}}\n')
    digest = hashlib.sha256((run / "evidence.json").read_bytes()).hexdigest()
    body = attestation.statement(digest, "urn:edupro-verify:lab:1.0:run-1", statuses)
    (run / attestation.FILE).write_text(json.dumps(attestation.envelope(body, key)))
    signing.sign(run, key)
    return run


def offline(run: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", OFFLINE], cwd=run, capture_output=True, text=True)


def test_the_envelope_verifies_with_openssl_and_names_the_evidence(tmp_path: Path) -> None:
    run = folder(tmp_path, {"HW-01": "passed", "APP-01": "partly_verified", "SEC-01": "failed",
                            "FW-01": "not_applicable", "OPS-01": "error"})
    checked = offline(run)
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout, checked.stderr
    body = json.loads((run / "statement.json").read_text())
    assert body["_type"] == "https://in-toto.io/Statement/v1"
    assert body["predicateType"] == "https://in-toto.io/attestation/test-result/v0.1"
    assert body["subject"][0]["digest"]["sha256"] == hashlib.sha256((run / "evidence.json").read_bytes()).hexdigest()
    predicate = body["predicate"]
    assert predicate["result"] == "FAILED"
    assert (predicate["passedTests"], predicate["warnedTests"], predicate["failedTests"]) == (
        ["HW-01"], ["APP-01"], ["OPS-01", "SEC-01"])


def test_a_changed_statement_fails_openssl_and_the_manifest(tmp_path: Path) -> None:
    run = folder(tmp_path, {"HW-01": "passed"})
    envelope = json.loads((run / attestation.FILE).read_text())
    body = json.loads(base64.b64decode(envelope["payload"]))
    body["predicate"]["result"] = "PASSED"
    body["predicate"]["failedTests"] = []
    body["subject"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    (run / attestation.FILE).write_text(json.dumps(envelope))
    assert offline(run).returncode != 0
    assert "changed: attestation.intoto.json" in signing.verify(run, None).lines()

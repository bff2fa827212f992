"""The run as an in-toto attestation: a Statement with the test-result predicate, whose subject is the run's
evidence.json, in a DSSE envelope signed with the run's key (the QA key when one is given).

DSSE signs PAE(payloadType, payload) = "DSSEv1 <len(type)> <type> <len(payload)> <payload>", not the payload
itself. Offline, without our tool (the README shows the same commands):

    jq -r .payload attestation.intoto.json | base64 -d > statement.json
    jq -r '.signatures[0].sig' attestation.intoto.json | base64 -d > statement.sig
    T=application/vnd.in-toto+json
    { printf 'DSSEv1 %d %s %d ' ${#T} "$T" "$(stat -c %s statement.json)"; cat statement.json; } > pae.bin
    openssl pkeyutl -verify -pubin -inkey signer.pub.pem -rawin -in pae.bin -sigfile statement.sig
    jq -r '.subject[0].digest.sha256' statement.json; sha256sum evidence.json    # the same digest
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import signing
from .evidence import EvidenceDocument

FILE = "attestation.intoto.json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
# A requirement's status as the predicate's three lists see it (not applicable is in none: nothing was tested).
PASSED, WARNED = {"passed"}, {"partly_verified", "waived"}
FAILED = {"failed", "error", "not_covered"}


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def statement(evidence_sha256: str, run_uri: str, statuses: dict[str, str]) -> dict[str, Any]:
    """The test-result Statement: requirement IDs by outcome, about the evidence.json with this digest."""
    by = {name: sorted(r for r, s in statuses.items() if s in group)
          for name, group in (("passedTests", PASSED), ("warnedTests", WARNED), ("failedTests", FAILED))}
    result = "FAILED" if by["failedTests"] else "WARNED" if by["warnedTests"] else "PASSED"
    return {"_type": STATEMENT_TYPE,
            "subject": [{"name": "evidence.json", "digest": {"sha256": evidence_sha256}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {"result": result, "configuration": [{"name": "run", "uri": run_uri}], **by}}


def envelope(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = json.dumps(body, indent=2, sort_keys=True).encode()
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": signing.fingerprint(key.public_key()),
                            "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, payload))).decode()}]}


def write(run_dir: Path, document: EvidenceDocument, key: Ed25519PrivateKey) -> Path:
    """attestation.intoto.json beside the evidence it is about (written after redaction, before the manifest)."""
    digest = hashlib.sha256((run_dir / "evidence.json").read_bytes()).hexdigest()
    run = document.run
    body = statement(digest, f"urn:edupro-verify:{run.env}:{run.release}:{run.id}",
                     {rid: r.status for rid, r in document.requirements.items()})
    path = run_dir / FILE
    path.write_text(json.dumps(envelope(body, key), indent=2) + "\n")
    return path

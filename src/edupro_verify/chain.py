"""Run folders as a chain: the newest verified report per phase, approvals, and the gate (GATE-01)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from . import evidence, signing
from .evidence import Gate
from .trust import ROLES, Trust


@dataclass
class PhaseReport:
    folder: Path
    phase: int
    verdict: str
    started: datetime
    finished: datetime
    manifest_sha256: str


def manifest_digest(folder: Path) -> str:
    return hashlib.sha256((folder / signing.MANIFEST).read_bytes()).hexdigest()


def _runs(reports: Path) -> list[Path]:
    if not reports.is_dir():
        return []
    return sorted((p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()
                   and (p / "evidence.json").is_file()), key=lambda p: p.name)


def newest_verified(reports: Path, env: str, release: str, trusted: list[Ed25519PublicKey]) -> dict[int, PhaseReport]:
    """For each phase, the newest run folder of this environment and release signed by a trusted (pinned) key."""
    found: dict[int, PhaseReport] = {}
    for folder in _runs(reports):
        if not signing.verify(folder, trusted).ok:
            continue
        try:
            document = evidence.read(folder / "evidence.json")
        except (ValidationError, ValueError):  # written by an older suite (another schema_version): not a link
            continue
        run = document.run
        if run.env != env or run.release != str(release) or run.interrupted:  # an interrupted run is no link
            continue
        for phase, verdict in document.phases.items():
            if int(phase) == 0:
                continue
            found[int(phase)] = PhaseReport(folder, int(phase), verdict.verdict, run.started, run.finished,
                                            manifest_digest(folder))
    return found


def newest_release(reports: Path, env: str, trusted: list[Ed25519PublicKey]) -> tuple[str, str] | None:
    """(release, run folder name) of the newest run of ENV signed by a pinned key: the phase chain's release."""
    for folder in reversed(_runs(reports)):
        if not signing.verify(folder, trusted).ok:
            continue
        try:
            run = evidence.read(folder / "evidence.json").run
        except (ValidationError, ValueError):
            continue
        if run.env == env and run.release != "unknown" and not run.interrupted:
            return run.release, folder.name
    return None


def requirement_status(folder: Path, requirement: str) -> str:
    found = evidence.read(folder / "evidence.json").requirements.get(requirement)
    return found.status if found else "not run"


def span_seconds(reports: list[PhaseReport]) -> float:
    return (max(r.finished for r in reports) - min(r.started for r in reports)).total_seconds()


def approvals(folder: Path, trust: Trust) -> dict[str, dict[str, Any]]:
    """Valid approvals of this exact folder, by role: each signed over the folder's manifest digest by a key
    pinned for its role (specs/trust/approvers/<role>); the key stored beside an approval only names it."""
    return read_approvals(folder, trust)[0]


def read_approvals(folder: Path, trust: Trust) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The valid approvals by role, and those present but refused, by role, with why (in words)."""
    valid: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    directory = folder / signing.APPROVALS
    if not directory.is_dir():
        return valid, refused
    digest = manifest_digest(folder)
    for statement in sorted(directory.glob("*.json")):
        signature = statement.with_suffix(".sig")
        try:
            data = json.loads(statement.read_text())
        except ValueError:
            refused[statement.stem] = f"{statement.name} is not readable JSON"
            continue
        role = str(data.get("role"))
        if role not in ROLES:
            refused[statement.stem] = f"{statement.name} names no known role ({', '.join(ROLES)})"
        elif not signature.exists():
            refused[role] = f"the {role} approval {statement.name} has no signature"
        elif data.get("manifest_sha256") != digest:
            refused[role] = f"the {role} approval by {data.get('approver')} was given to another version of this report"
        elif any(signing.signed_by(key, signature.read_bytes(), statement.read_bytes())
                 for key in trust.approver_keys(role)):
            valid[role] = data
        else:
            refused[role] = (f"the {role} approval by {data.get('approver')} is signed by a key not pinned for the "
                             f"{role} role (specs/trust/approvers/{role})")
    return valid, {role: why for role, why in refused.items() if role not in valid}


class GateClosed(Exception):
    """Phase N asked for without a verified passing report of phase N-1."""


def gate(reports: Path, env: str, release: str, phase: int, trusted: list[Ed25519PublicKey]) -> Gate:
    """The predecessor this run builds on (GATE-01): a passing report of the phase before, signed by a pinned QA
    key; raises GateClosed when there is none (a run signed with a throwaway key never opens a gate)."""
    if phase <= 1:
        return Gate(phase=phase)
    earlier = newest_verified(reports, env, release, trusted).get(phase - 1)
    if earlier is None or earlier.verdict != "passed":
        state = "failed" if earlier else "missing"
        raise GateClosed(f"phase {phase} needs a verified passing report of phase {phase - 1} for {env} release "
                         f"{release}, signed by a pinned QA key (it is {state}); run --phase {phase - 1} first with "
                         "EDUPRO_SIGNING_KEY set to a key pinned in specs/trust/qa, or pass --no-gate to override")
    return Gate(phase=phase, predecessor=earlier.folder.name, predecessor_manifest_sha256=earlier.manifest_sha256)

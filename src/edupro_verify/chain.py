"""Run folders as a chain: the newest verified report per phase, approvals, and the gate (GATE-01)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from pydantic import ValidationError

from . import evidence, signing
from .evidence import Gate

ROLES = ("technical", "security", "business")


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


def newest_verified(reports: Path, env: str, release: str) -> dict[int, PhaseReport]:
    """For each phase, the newest run folder of this environment and release whose signature verifies."""
    found: dict[int, PhaseReport] = {}
    for folder in _runs(reports):
        if not signing.verify(folder).ok:
            continue
        try:
            document = evidence.read(folder / "evidence.json")
        except (ValidationError, ValueError):  # written by an older suite (another schema_version): not a link
            continue
        run = document.run
        if run.env != env or run.release != str(release):
            continue
        for phase, verdict in document.phases.items():
            if int(phase) == 0:
                continue
            found[int(phase)] = PhaseReport(folder, int(phase), verdict.verdict, run.started, run.finished,
                                            manifest_digest(folder))
    return found


def requirement_status(folder: Path, requirement: str) -> str:
    found = evidence.read(folder / "evidence.json").requirements.get(requirement)
    return found.status if found else "not run"


def span_seconds(reports: list[PhaseReport]) -> float:
    return (max(r.finished for r in reports) - min(r.started for r in reports)).total_seconds()


def approvals(folder: Path) -> dict[str, dict[str, Any]]:
    """Valid approvals of this exact folder, by role (each signed over the folder's manifest digest)."""
    valid: dict[str, dict[str, Any]] = {}
    directory = folder / signing.APPROVALS
    if not directory.is_dir():
        return valid
    digest = manifest_digest(folder)
    for statement in sorted(directory.glob("*.json")):
        signature = statement.with_suffix(".sig")
        key_file = statement.with_suffix(".pub.pem")
        if not signature.exists() or not key_file.exists():
            continue
        data = json.loads(statement.read_text())
        try:
            signing.load_public(key_file).verify(signature.read_bytes(), statement.read_bytes())
        except (InvalidSignature, signing.SigningError):
            continue
        if data.get("manifest_sha256") == digest and data.get("role") in ROLES:
            valid[data["role"]] = data
    return valid


class GateClosed(Exception):
    """Phase N asked for without a verified passing report of phase N-1."""


def gate(reports: Path, env: str, release: str, phase: int) -> Gate:
    """The predecessor this run builds on (GATE-01); raises GateClosed when there is none."""
    if phase <= 1:
        return Gate(phase=phase)
    earlier = newest_verified(reports, env, release).get(phase - 1)
    if earlier is None or earlier.verdict != "passed":
        state = "failed" if earlier else "missing"
        raise GateClosed(f"phase {phase} needs a verified passing report of phase {phase - 1} for {env} release "
                         f"{release} (it is {state}); run --phase {phase - 1} first, or pass --no-gate to override")
    return Gate(phase=phase, predecessor=earlier.folder.name, predecessor_manifest_sha256=earlier.manifest_sha256)

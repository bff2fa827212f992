"""The terminal summary: the verdict per phase and what failed, from the evidence the run wrote."""

from __future__ import annotations

from collections.abc import Callable

from ..evidence import EvidenceDocument
from ..spec import PHASES


def lines(document: EvidenceDocument) -> list[str]:
    out = ["", f"EduPro verification of '{document.run.env}' (release {document.run.release})"]
    if document.run.interrupted:
        out.append("  INTERRUPTED: only the checks that ran before the interruption are in the report")
    for phase, verdict in document.phases.items():
        counts = ", ".join(f"{v} {k}" for k, v in verdict.counts.items() if v)
        out.append(f"  phase {phase} {PHASES[int(phase)]}: {verdict.verdict.upper()} ({counts})")
    for rid, req in document.requirements.items():
        if req.status in ("failed", "error", "not_covered", "partly_verified"):
            out.append(f"  {req.status.upper().replace('_', ' '):12} {rid}: {req.reason}")
    return out


def write(document: EvidenceDocument, report: str, write_line: Callable[[str], None]) -> None:
    for line in lines(document):
        write_line(line)
    write_line(f"report: {report}")

"""What each scenario measured, and the per-requirement results built from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from .spec import Requirement
from .waivers import Waiver

STATUSES = ("passed", "failed", "error", "waived", "not_applicable", "not_covered")
# When scenarios of one requirement disagree, the strongest statement wins.
_PRECEDENCE = ("failed", "error", "passed", "not_applicable")


@dataclass
class Measurement:
    what: str
    measured: Any
    threshold: Any = None
    detail: Any = None


@dataclass
class ScenarioResult:
    nodeid: str
    feature: str
    scenario: str
    requirements: list[str]
    phase: int
    status: str = "passed"
    reason: str = ""
    duration_seconds: float = 0.0
    measurements: list[Measurement] = field(default_factory=list)


class Evidence:
    """Handed to steps as the `evidence` fixture: they record what they measured against what."""

    def __init__(self, result: ScenarioResult) -> None:
        self.result = result

    def measure(self, what: str, measured: Any, threshold: Any = None, detail: Any = None) -> Any:
        self.result.measurements.append(Measurement(what, measured, threshold, detail))
        return measured


@dataclass
class RequirementResult:
    id: str
    title: str
    phase: int
    severity: str
    standards: list[str]
    status: str
    reason: str
    scenarios: list[str]
    measured: list[dict[str, Any]]
    threshold: dict[str, Any]
    waiver: dict[str, Any] | None = None


def summarise(requirements: dict[str, Requirement], scenarios: list[ScenarioResult],
              in_scope: set[int], not_applicable: dict[str, str], waivers: list[Waiver] | None = None,
              today: date | None = None) -> dict[str, RequirementResult]:
    results: dict[str, RequirementResult] = {}
    for rid, req in requirements.items():
        if req.phase not in in_scope:
            continue
        mine = [s for s in scenarios if rid in s.requirements]
        if not mine:
            status, reason = "not_covered", "no executable scenario verifies this requirement"
        else:
            status = next(s for s in _PRECEDENCE if any(r.status == s for r in mine))
            reasons = [f"{r.scenario}: {r.reason}" for r in mine if r.status == status and r.reason]
            reason = reasons[0] if reasons else ""
            if status == "not_applicable":
                reason = not_applicable.get(rid, reason)
        waiver = _waiver_for(rid, status, waivers or [], today or date.today())
        if waiver and waiver["active"]:
            status, reason = "waived", f"{reason} (waived until {waiver['expires']} by {waiver['approver']})"
        elif waiver:
            reason = f"{reason} (waiver expired on {waiver['expires']})"
        results[rid] = RequirementResult(
            id=rid, title=req.title, phase=req.phase, severity=req.severity, standards=req.standards,
            status=status, reason=reason, scenarios=[r.scenario for r in mine],
            measured=[asdict(m) for r in mine for m in r.measurements], threshold=req.thresholds, waiver=waiver)
    return results


def _waiver_for(rid: str, status: str, waivers: list[Waiver], today: date) -> dict[str, Any] | None:
    """A waiver only covers a failing or erroring requirement; the newest-expiring one counts."""
    mine = sorted((w for w in waivers if w.requirement == rid), key=lambda w: w.expires)
    if not mine or status not in ("failed", "error"):
        return None
    chosen = mine[-1]
    return {**chosen.model_dump(mode="json"), "active": chosen.active(today)}


def phase_verdicts(results: dict[str, RequirementResult]) -> dict[str, dict[str, Any]]:
    verdicts: dict[str, dict[str, Any]] = {}
    for phase in sorted({r.phase for r in results.values()}):
        mine = [r for r in results.values() if r.phase == phase]
        counts = {s: sum(1 for r in mine if r.status == s) for s in STATUSES}
        ok = all(r.status in ("passed", "waived", "not_applicable") for r in mine)
        verdicts[str(phase)] = {"verdict": "passed" if ok else "failed", "counts": counts}
    return verdicts

"""The evidence of a run, typed: what each scenario measured against which limit, and the results built from it.

One model is shared by everything that reads or writes evidence: the steps (through `Evidence`), the
evidence.json writer, the HTML report, the terminal summary and the phase chain. `edupro-verify schema`
prints its JSON Schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import ProbeError
from .spec import Profile, Requirement
from .units import COLLECTION, Limit, Quantity
from .waivers import Waiver

SCHEMA_VERSION = 3
STATUSES = ("passed", "partly_verified", "failed", "error", "waived", "not_applicable", "not_covered")
# partly_verified: the scenarios that ran passed, and others do not apply here (the profile says why): the
# requirement is not "passed", since part of it was not verified on this target.
Status = Literal["passed", "partly_verified", "failed", "error", "waived", "not_applicable", "not_covered"]
Verdict = Literal["passed", "failed", "recorded"]
# When scenarios of one requirement disagree, the strongest statement wins.
_PRECEDENCE = ("failed", "error", "passed", "not_applicable")


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Measurement(Record):
    """One observation: compared with a limit of the specs (passed/failed), or recorded beside them."""
    what: str
    value: Any = Field(description="what was observed, in `unit` when it has one")
    unit: str = ""
    comparator: str | None = Field(None, description=">=, <=, >, <, ==, !=, within, includes, excludes, none")
    limit: Any = Field(None, description="what the value is compared with, in `unit`")
    verdict: Verdict
    source: str = Field("", description="where it was observed: a host, a vantage point, a file")
    requirement: str | None = None
    at: datetime | None = Field(None, description="when it was observed (UTC)")


class ScenarioResult(Record):
    nodeid: str
    feature: str
    scenario: str
    requirements: list[str]
    phase: int
    status: Status = "passed"
    reason: str = ""
    duration_seconds: float = 0.0
    measurements: list[Measurement] = []


class WaiverRecord(Record):
    requirement: str
    justification: str
    approver: str
    expires: date
    active: bool


class RequirementResult(Record):
    id: str
    title: str
    phase: int
    severity: str
    standards: list[str]
    status: Status
    reason: str
    scenarios: list[str]
    measured: list[Measurement]
    threshold: dict[str, Any]
    waiver: WaiverRecord | None = None


class Gate(Record):
    phase: int
    predecessor: str | None = None
    predecessor_manifest_sha256: str | None = None
    overridden: bool = False
    refusal: str = ""


class RunRecord(Record):
    id: str
    env: str
    release: str
    phases: list[int]
    started: datetime
    finished: datetime
    duration_seconds: float
    suite_version: str
    gate: Gate
    interrupted: bool = Field(False, description="stopped by Ctrl-C or SIGTERM: only what ran before is here")


class TargetRecord(Record):
    base_url: str
    host: str
    driver: str
    hosts: list[str]
    inventory: str = Field("", description="the Ansible inventory the servers were read from, when not listed in the profile")
    database: str
    prometheus_url: str


class ProfileRecord(Record):
    description: str
    relaxed: dict[str, str]
    not_applicable: dict[str, str]


class PhaseVerdict(Record):
    verdict: Literal["passed", "failed"]
    counts: dict[str, int]


class Signature(Record):
    algorithm: Literal["Ed25519"]
    signer: str
    qa_key: bool
    note: str


class EvidenceDocument(Record):
    """evidence.json"""
    schema_version: Literal[3] = SCHEMA_VERSION
    run: RunRecord
    target: TargetRecord
    profile: ProfileRecord
    tools: dict[str, str]
    phases: dict[str, PhaseVerdict]
    not_selected: list[str]
    requirements: dict[str, RequirementResult]
    scenarios: list[ScenarioResult]
    signature: Signature | None = None


def read(path: Path) -> EvidenceDocument:
    return EvidenceDocument.model_validate_json(path.read_text())


def schema() -> dict[str, Any]:
    document = EvidenceDocument.model_json_schema()
    document["$id"] = f"https://edupro.invalid/evidence/v{SCHEMA_VERSION}.schema.json"
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return document


def jsonable(value: Any) -> Any:
    """A measured value as plain data (sets sorted, paths and times as text), never a Python repr."""
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if hasattr(value, "__dataclass_fields__"):
        return {k: jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return str(value)


def _shown(value: Any, unit: str = "") -> str:
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, (list, tuple, set)):
        value = ", ".join(str(v) for v in value) or "none"
    return f"{value} {unit}".strip() if unit and unit != "%" else f"{value}{unit}"


@dataclass
class Findings:
    """A scenario's expectations that did not hold. While its Then steps run they are collected, so the scenario
    reports every one of them when it ends (`Unmet`); in Given and When steps, whose results later steps build on,
    the first one stops the scenario."""
    collect: bool = False
    sentences: list[str] = field(default_factory=list)
    stopped_by: BaseException | None = None  # what ended the scenario before its last step, if anything


class Unmet(AssertionError):
    """Every expectation of a scenario that did not hold, one sentence each."""

    def __init__(self, sentences: list[str]) -> None:
        super().__init__("; ".join(sentences))
        self.sentences = sentences


class Evidence:
    """Handed to steps as the `evidence` fixture. `expect` compares a measurement with its requirement's limit
    in the specs and fails the scenario with a generated sentence; `record` keeps a fact beside them."""

    def __init__(self, result: ScenarioResult, profile: Profile | None = None, findings: Findings | None = None) -> None:
        self.result, self.profile, self.findings = result, profile, findings

    def _unmet(self, sentence: str) -> None:
        """An expectation that did not hold: collected while a Then step runs, else it stops the scenario."""
        if self.findings is not None and self.findings.collect:
            self.findings.sentences.append(sentence)
            return
        raise AssertionError(sentence)

    def _add(self, **fields: Any) -> Measurement:
        measurement = Measurement(at=datetime.now(UTC), **fields)
        self.result.measurements.append(measurement)
        return measurement

    def record(self, what: str, value: Any, *, unit: str = "", source: str = "") -> Any:
        """A fact observed but not compared (it explains a verdict, or a later step compares it)."""
        self._add(what=what, value=jsonable(value), unit=unit, verdict="recorded", source=source)
        return value

    def threshold(self, key: str, requirement: str | None = None) -> tuple[str, Any]:
        """The scenario's own requirement that sets KEY, and its typed threshold."""
        if self.profile is None:
            raise ProbeError("no profile: this check runs only under pytest --env")
        owners = [requirement] if requirement else [r for r in self.result.requirements
                                                    if key in self.profile.requirements[r].thresholds]
        if len(owners) != 1 or key not in self.profile.requirements[owners[0]].thresholds:
            raise ProbeError(f"the specs set no single threshold '{key}' for {', '.join(self.result.requirements)}")
        return owners[0], self.profile.threshold(owners[0], key)

    def expect(self, what: str, measured: Any, key: str, *, requirement: str | None = None, source: str = "",
               unit: str = "", detail: str = "") -> Any:
        """Compare MEASURED with the threshold KEY of the scenario's requirement, as the specs declare it.

        Quantities are measured in base units (bytes, seconds, Hz, bit/s, ratio) and recorded in the limit's
        own unit; versions are compared part by part; collections with within / includes / excludes; any other
        threshold is an expected value (==). DETAIL is added to the sentence when it fails (what the offending
        values are, in words)."""
        rid, threshold = self.threshold(key, requirement)
        limit = threshold if isinstance(threshold, Limit) else Limit("==", threshold, "value")
        if isinstance(limit.limit, Quantity):
            value, unit, shown_limit = limit.in_unit(float(measured)), limit.unit, limit.shown
        else:
            value, shown_limit = jsonable(measured), jsonable(limit.limit)
        ok = limit.holds(measured)
        self._add(what=what, value=value, unit=unit, comparator=limit.comparator, limit=shown_limit,
                  verdict="passed" if ok else "failed", source=source, requirement=rid)
        if not ok:
            self._unmet(_sentence(what, value, unit, limit, measured, source) + (f": {detail}" if detail else ""))
        return measured

    def expect_none(self, what: str, found: Any, *, source: str = "", message: str = "") -> None:
        """Nothing may be found (missing files, drift, open ports): the list itself is the evidence."""
        value = jsonable(found)
        self._add(what=what, value=value, comparator="none", limit=None, verdict="failed" if found else "passed",
                  source=source)
        if found:
            self._unmet(_prefixed(source, message or f"{what}: {_shown(value)}"))

    def expect_true(self, what: str, value: Any, ok: bool, expected: str, *, source: str = "",
                    message: str = "") -> None:
        """A property that is not a number of the specs (a redirect, a matching key pair): what was seen,
        what was expected, and the sentence when it does not hold."""
        self._add(what=what, value=jsonable(value), comparator="is", limit=expected,
                  verdict="passed" if ok else "failed", source=source)
        if not ok:
            self._unmet(_prefixed(source, message or f"{what} is {_shown(jsonable(value))}, expected {expected}"))


def _prefixed(source: str, sentence: str) -> str:
    return f"{source}: {sentence}" if source else sentence


def _sentence(what: str, value: Any, unit: str, limit: Limit, measured: Any, source: str) -> str:
    if limit.comparator in COLLECTION:
        found, wanted = set(measured), set(limit.limit)
        offending = {"within": found - wanted, "includes": wanted - found, "excludes": found & wanted}[limit.comparator]
        word = {"within": "not allowed", "includes": "missing", "excludes": "present"}[limit.comparator]
        return _prefixed(source, f"{what}: {', '.join(sorted(str(v) for v in offending))} {word} "
                                 f"(the profile requires {limit})")
    shown_limit = _shown(limit.shown, limit.unit) if isinstance(limit.limit, Quantity) else _shown(jsonable(limit.limit))
    return _prefixed(source, f"{what} is {_shown(value, unit)}, the profile requires {limit.comparator} {shown_limit}")


def verdict(statuses: list[str]) -> str:
    """A requirement's status from the statuses of its scenarios: the one rule the summary, the report, the gate and
    the compliance roll-ups share. A failure outweighs an error, an error a pass; a pass beside scenarios that do not
    apply here is a partial verification; none at all is not covered."""
    if not statuses:
        return "not_covered"
    status = next(s for s in _PRECEDENCE if s in statuses)
    return "partly_verified" if status == "passed" and "not_applicable" in statuses else status


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
            status = verdict([r.status for r in mine])
            reasons = [f"{r.scenario}: {r.reason}" for r in mine if r.status == status and r.reason]
            reason = reasons[0] if reasons else ""
            if status == "not_applicable":
                reason = not_applicable.get(rid, reason)
            skipped = [r for r in mine if r.status == "not_applicable"]
            if status == "partly_verified":
                reason = (f"{len(mine) - len(skipped)} of {len(mine)} scenarios verified it; not applicable here: "
                          + "; ".join(f"{r.scenario} ({r.reason})" for r in skipped))
        waiver = _waiver_for(rid, status, waivers or [], today or date.today())
        if waiver and waiver.active:
            status, reason = "waived", f"{reason} (waived until {waiver.expires} by {waiver.approver})"
        elif waiver:
            reason = f"{reason} (waiver expired on {waiver.expires})"
        results[rid] = RequirementResult(
            id=rid, title=req.title, phase=req.phase, severity=req.severity, standards=req.standards,
            status=status, reason=reason, scenarios=[r.scenario for r in mine],
            measured=[m for r in mine for m in r.measurements], threshold=jsonable(req.thresholds), waiver=waiver)
    return results


def _waiver_for(rid: str, status: str, waivers: list[Waiver], today: date) -> WaiverRecord | None:
    """A waiver only covers a failing or erroring requirement; the newest-expiring one counts."""
    mine = sorted((w for w in waivers if w.requirement == rid), key=lambda w: w.expires)
    if not mine or status not in ("failed", "error"):
        return None
    chosen = mine[-1]
    return WaiverRecord(**chosen.model_dump(), active=chosen.active(today))


def phase_verdicts(results: dict[str, RequirementResult]) -> dict[str, PhaseVerdict]:
    verdicts: dict[str, PhaseVerdict] = {}
    for phase in sorted({r.phase for r in results.values()}):
        mine = [r for r in results.values() if r.phase == phase]
        counts = {s: sum(1 for r in mine if r.status == s) for s in STATUSES}
        ok = all(r.status in ("passed", "partly_verified", "waived", "not_applicable") for r in mine)
        verdicts[str(phase)] = PhaseVerdict(verdict="passed" if ok else "failed", counts=counts)
    return verdicts

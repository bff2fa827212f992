"""The run as NIST OSCAL assessment results (assessment-results.json), built with compliance-trestle's models.

One result for the run; an observation per measurement (what was observed, where, when, against which limit);
a finding per requirement, its target the requirement ID as an objective, with the run's status:
passed -> satisfied; failed -> not-satisfied (fail); error, not covered -> not-satisfied (other: it could not be
judged); waived -> not-satisfied (other), the waiver in the remarks; partly verified -> implementation partial,
no determination; not applicable -> implementation not-applicable, no determination. Every finding also carries
the run's own status as a property, and links to its observations. UUIDs are derived from the run ID, so the same
run always gives the same document.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .evidence import EvidenceDocument, Measurement, RequirementResult

FILE = "assessment-results.json"
NS = "https://edupro.invalid/ns/oscal"  # our properties' namespace (the status words of evidence.json)
_ROOT = uuid.UUID("6f1e0a52-4d0b-4c55-9a59-3b1e8e1f7a10")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_ROOT, "/".join(parts)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    """A property value: one line, no leading or trailing blanks, never empty (OSCAL's string pattern)."""
    text = " ".join(str(value).split())
    return text or "-"


def _sentence(m: Measurement) -> str:
    observed = f"{m.what}: {m.value} {m.unit}".rstrip()
    if m.comparator and m.verdict != "recorded":
        observed += f" (limit {m.comparator} {m.limit} {m.unit}".rstrip() + f"; {m.verdict})"
    return observed


def build(document: EvidenceDocument) -> Any:
    # Imported when a report is written: trestle's models take half a second to load.
    from trestle.oscal import OSCAL_VERSION, common
    from trestle.oscal import assessment_results as ar

    run = document.run

    def prop(name: str, value: Any) -> Any:
        return common.Property(name=name, value=_text(value), ns=NS)

    observations: list[Any] = []
    by_requirement: dict[str, list[str]] = {}
    for number, scenario in enumerate(document.scenarios):
        for index, m in enumerate(scenario.measurements):
            oid = _uuid(run.id, scenario.nodeid, str(index))
            requirements = [m.requirement] if m.requirement else scenario.requirements
            for rid in requirements:
                by_requirement.setdefault(rid, []).append(oid)
            evidence = common.RelevantEvidence(
                href=f"evidence.json#/scenarios/{number}/measurements/{index}",
                description=f"observed at {m.source}" if m.source else f"observed by the scenario '{scenario.scenario}'")
            observations.append(common.Observation(
                uuid=oid, title=_text(m.what)[:200], description=_sentence(m), methods=["TEST"],
                collected=_aware(m.at or run.finished), relevant_evidence=[evidence],
                props=[prop("verdict", m.verdict), prop("scenario", scenario.scenario),
                       *(prop("requirement", rid) for rid in requirements)]))

    findings = [_finding(common, run.id, rid, result, by_requirement.get(rid, []), prop)
                for rid, result in sorted(document.requirements.items())]
    verdicts = "; ".join(f"phase {p}: {v.verdict}" for p, v in sorted(document.phases.items()))
    result = ar.Result(
        uuid=_uuid(run.id, "result"), title=f"EduPro verification run {run.id}",
        description=f"Environment {run.env}, release {run.release}, phases {run.phases}: {verdicts or 'none'}.",
        start=_aware(run.started), end=_aware(run.finished),
        reviewed_controls=common.ReviewedControls(control_selections=[common.ControlSelections(
            include_controls=[common.SelectControlById(control_id=rid) for rid in sorted(document.requirements)]
            or [common.SelectControlById(control_id="none")])]),
        props=[prop("environment", run.env), prop("release", run.release), prop("target", document.target.base_url),
               prop("suite-version", run.suite_version)],
        observations=observations or None, findings=findings or None)
    metadata = common.Metadata(title=f"EduPro verification of '{run.env}' (release {run.release})",
                               last_modified=_aware(run.finished), version=_text(run.release),
                               oscal_version=OSCAL_VERSION)
    return ar.AssessmentResults(
        uuid=_uuid(run.id), metadata=metadata, results=[result],
        import_ap=ar.ImportAp(href=f"specs/environments/{run.env}.yaml",
                              remarks="The plan: specs/requirements.yaml, as the profile of this environment sets it."))


def _finding(common: Any, run_id: str, rid: str, result: RequirementResult, observations: list[str],
             prop: Any) -> Any:
    satisfied, reason = {"passed": ("satisfied", "pass"), "failed": ("not-satisfied", "fail"),
                         "error": ("not-satisfied", "other"), "not_covered": ("not-satisfied", "other"),
                         "waived": ("not-satisfied", "other")}.get(result.status, (None, None))
    implementation = {"passed": "implemented", "partly_verified": "partial",
                      "not_applicable": "not-applicable"}.get(result.status)
    remarks = result.reason or None
    if result.waiver:
        remarks = (f"waived by {result.waiver.approver} until {result.waiver.expires}: {result.waiver.justification}"
                   + (f" ({result.reason})" if result.reason else ""))
    target = common.FindingTarget(
        type="objective-id", target_id=rid, title=_text(result.title),
        status=common.ObjectiveStatus(state=satisfied, reason=reason) if satisfied else None,
        implementation_status=common.ImplementationStatus(state=implementation) if implementation else None)
    return common.Finding(
        uuid=_uuid(run_id, "finding", rid), title=f"{rid} {_text(result.title)}",
        description=f"{rid} is {result.status.replace('_', ' ')}" + (f": {result.reason}" if result.reason else "."),
        target=target, remarks=remarks,
        props=[prop("status", result.status), prop("phase", result.phase), prop("severity", result.severity),
               *(prop("standard", s) for s in result.standards)],
        related_observations=[common.RelatedObservation(observation_uuid=o) for o in observations] or None)


def write(run_dir: Path, document: EvidenceDocument) -> Path:
    """assessment-results.json in the run folder (before redaction, so a secret in a measurement is redacted)."""
    path = run_dir / FILE
    path.write_text(build(document).oscal_serialize_json(pretty=True) + "\n")  # {"assessment-results": {...}}
    return path

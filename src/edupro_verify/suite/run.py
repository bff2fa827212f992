"""The run as a typed record: what is verified, where, under which gate, and the results as they come in."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .. import __version__, chain, signing, trust
from ..errors import TargetError
from ..evidence import (
    EvidenceDocument,
    Gate,
    ProfileRecord,
    RunRecord,
    ScenarioResult,
    TargetRecord,
    phase_verdicts,
    summarise,
)
from ..report import scanner_versions
from ..spec import Profile, SpecError, load_profile
from ..targets import Target, preflight, resolve
from ..waivers import Waiver
from ..waivers import load as load_waivers
from .options import parse_phases


@dataclass
class Run:
    id: str
    env: str
    phases: list[int]
    dir: Path
    started: datetime
    release: str
    gate: Gate
    waivers: list[Waiver]
    profile: Profile
    target: Target
    trust: trust.Trust
    results: list[ScenarioResult] = field(default_factory=list)
    with_scenarios: set[str] = field(default_factory=set)  # requirements with a scenario before -m/-k
    selected: set[str] = field(default_factory=set)  # requirements with a scenario after them
    scenarios_selected: Counter[str] = field(default_factory=Counter)  # requirement -> its scenarios in this run
    monotonic: float = field(default_factory=time.monotonic)
    document: EvidenceDocument | None = None  # set once the folder is written
    written: Path | None = None
    problems: list[str] = field(default_factory=list)  # what could not be written, said after the summary

    def evidence(self, extra: list[ScenarioResult] | None = None, interrupted: bool = False) -> EvidenceDocument:
        """The evidence of the results so far (and EXTRA, for the suite's own report checks). An INTERRUPTED run
        says so, and each selected requirement it did not reach is an error that says why."""
        scenarios = [*self.results, *(extra or [])]
        profile, target = self.profile, self.target
        # A requirement whose scenarios -m or -k left out is not in this run; one without any is a gap.
        left_out = self.with_scenarios - self.selected
        in_scope = {rid: req for rid, req in profile.requirements.items() if rid not in left_out}
        results = summarise(in_scope, scenarios, set(self.phases) | {0}, profile.not_applicable, self.waivers)
        if interrupted:  # a requirement whose scenarios did not all finish is not verified, whatever the others said
            for rid, result in results.items():
                if len(result.scenarios) < self.scenarios_selected[rid]:
                    result.status, result.reason = "error", (
                        f"not verified: the run was interrupted before {self.scenarios_selected[rid] - len(result.scenarios)}"
                        f" of its {self.scenarios_selected[rid]} scenarios finished")
        db = target.database
        return EvidenceDocument(
            run=RunRecord(id=self.id, env=self.env, release=self.release, phases=self.phases,
                          started=self.started.replace(microsecond=0), finished=datetime.now(UTC).replace(microsecond=0),
                          duration_seconds=round(time.monotonic() - self.monotonic, 2), suite_version=__version__,
                          gate=self.gate, interrupted=interrupted),
            target=TargetRecord(base_url=target.base_url, host=target.host_spec, driver=target.driver,
                                hosts=[label for label in target.hosts if label] or [target.host_spec],
                                inventory=str(target.inventory_file or ""),
                                database=(f"{db.get('on_server') or db['host'] + ':' + str(db.get('port'))}/{db.get('name')}"
                                          + (" (through SSH)" if "on_server" in db else "")) if "host" in db else "",
                                prometheus_url=target.prometheus_url),
            profile=ProfileRecord(description=profile.description, relaxed=profile.relaxed,
                                  not_applicable=profile.not_applicable),
            tools=scanner_versions(), phases=phase_verdicts(results), not_selected=sorted(left_out),
            requirements=results, scenarios=scenarios)


def start(config: pytest.Config, env: str, specs: Path) -> Run:
    """Resolve the profile and the target, open the gate (or record its override) and name the run folder."""
    phases = parse_phases(config.getoption("phase"))
    profile = _profile(config, env, specs)
    pinned = _trust(specs)
    waivers = _waivers(specs, set(profile.requirements), pinned)
    try:
        target = resolve(profile)
        preflight(target)
    except TargetError as error:
        raise pytest.UsageError(str(error)) from None
    profile = profile.for_driver(target.driver)
    reports = Path(config.getoption("reports_dir"))
    release = _release(config, env, target, reports, pinned)
    gate = _gate(config, reports, env, release, min(phases), pinned)
    started = datetime.now(UTC)
    label = "all" if phases == set(range(1, 9)) else "-".join(str(p) for p in sorted(phases))
    run_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{env}-phase-{label}"
    run_dir = reports / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    return Run(id=run_id, env=env, phases=sorted(phases), dir=run_dir, started=started, release=str(release),
               gate=gate, waivers=waivers, profile=profile, target=target, trust=pinned)


def _release(config: pytest.Config, env: str, target: Target, reports: Path, pinned: trust.Trust) -> str:
    """The release under verification: --release; for a stack deploy.sh runs on this machine, the version its
    deploy tool records; else the phase chain's (the newest report of ENV signed by a pinned key). Never the
    target's own /version: REL-03 holds that against the release under verification."""
    given = config.getoption("release")
    if given:
        return str(given)
    if target.inventory.version:
        return target.inventory.version
    found = chain.newest_release(reports, env, pinned.qa_keys)
    if found:
        print(f"edupro-verify: release under verification {found[0]}, from the phase report {found[1]} "
              "(--release names another)", file=sys.stderr)
        return found[0]
    raise pytest.UsageError(f"name the release under verification: pytest --env {env} --release VERSION "
                            f"(no report of {env} signed by a pinned QA key names one)")


def _profile(config: pytest.Config, env: str, specs: Path) -> Profile:
    """The environment's profile, with the load options of the command line."""
    try:
        profile = load_profile(env, specs)
    except SpecError as error:
        raise pytest.UsageError(str(error)) from None
    if config.getoption("load_users"):
        profile.load.users = config.getoption("load_users")
    if config.getoption("load_seconds"):
        profile.load.duration = f"{config.getoption('load_seconds')} s"
    return profile


def _trust(specs: Path) -> trust.Trust:
    try:
        return trust.load(specs / "trust")
    except signing.SigningError as error:
        raise pytest.UsageError(f"{specs / 'trust'}: {error}") from None


def _waivers(specs: Path, requirement_ids: set[str], pinned: trust.Trust) -> list[Waiver]:
    """The waivers (an expired one is named and no longer counts). A named signing key that cannot be loaded
    stops the run now, not after it; one that is not pinned is named (its report will open no gate)."""
    try:
        waivers = load_waivers(specs / "waivers.yaml", requirement_ids)
        key, given = signing.signing_key()
    except (SpecError, signing.SigningError) as error:
        raise pytest.UsageError(str(error)) from None
    if given and not pinned.pins_qa(key.public_key()):
        print(f"edupro-verify: the signing key {signing.fingerprint(key.public_key())} is not pinned in "
              f"{pinned.folder / 'qa'}; this run's report will open no phase gate", file=sys.stderr)
    for waiver in waivers:
        if not waiver.active(datetime.now(UTC).date()):
            print(f"edupro-verify: the waiver of {waiver.requirement} expired on {waiver.expires}; it no longer counts",
                  file=sys.stderr)
    return waivers


def _gate(config: pytest.Config, reports: Path, env: str, release: str, phase: int, pinned: trust.Trust) -> Gate:
    """The phase gate: the previous phase's report signed by a pinned QA key, or a refusal (written down when
    --no-gate overrides)."""
    try:
        return chain.gate(reports, env, release, phase, pinned.qa_keys)
    except chain.GateClosed as error:
        if not config.getoption("no_gate"):
            raise pytest.UsageError(str(error)) from None
        return Gate(phase=phase, overridden=True, refusal=str(error))

"""The pytest plugin: `pytest --env NAME [--phase N|N-M]` verifies a deployment, phase by phase."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from . import __version__, chain, signing
from .errors import ProbeError, TargetError
from .evidence import Evidence, ScenarioResult, phase_verdicts, summarise
from .report import scanner_versions, write_run
from .spec import PHASES, SPECS, Profile, SpecError, load_profile, load_requirements
from .targets import Target, preflight, resolve
from .waivers import Waiver
from .waivers import load as load_waivers

REPO = Path(__file__).resolve().parents[2]
PROFILE = pytest.StashKey[Profile]()
TARGET = pytest.StashKey[Target]()
RUN = pytest.StashKey[dict[str, Any]]()
RESULTS = pytest.StashKey[list[ScenarioResult]]()
ITEM_RESULT = pytest.StashKey[ScenarioResult]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("edupro", "EduPro acceptance")
    group.addoption("--env", help="environment profile in specs/environments (development, staging, production)")
    group.addoption("--phase", help="phases to verify: N, N-M or N,M (1..8); default all")
    group.addoption("--load-users", type=int, help="override the profile's load-test user count")
    group.addoption("--load-seconds", type=int, help="override the profile's load-test duration")
    group.addoption("--reports-dir", default=str(REPO / "reports"), help="where run folders go (default reports/)")
    group.addoption("--release", help="release under verification (default: the version the target reports)")
    group.addoption("--no-gate", action="store_true",
                    help="run phase N without a verified passing report of phase N-1 (recorded in the report)")
    group.addoption("--specs", default=str(SPECS), help="the specs folder, as --specs=DIR (default: the repository's specs/)")


def parse_phases(text: str | None) -> set[int]:
    if not text:
        return set(range(1, 9))
    phases: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not match:
            raise pytest.UsageError(f"--phase {text}: write N, N-M or N,M with phases 1 to 8")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if not (1 <= low <= high <= 8):
            raise pytest.UsageError(f"--phase {text}: there are eight phases, 1 to 8")
        phases.update(range(low, high + 1))
    return phases


def pytest_configure(config: pytest.Config) -> None:
    specs = Path(config.getoption("specs"))
    try:
        requirements = load_requirements(specs)
    except SpecError as error:
        raise pytest.UsageError(str(error)) from None
    for rid, req in requirements.items():
        config.addinivalue_line("markers", f"REQ-{rid}: {req.title}")
    for phase, name in PHASES.items():
        config.addinivalue_line("markers", f"phase-{phase}: {name}")
    env = config.getoption("env")
    if not env:
        return
    phases = parse_phases(config.getoption("phase"))
    profile = _profile(config, env, specs)
    waivers = _waivers(specs, set(requirements))
    try:
        target = resolve(profile)
        preflight(target)
    except TargetError as error:
        raise pytest.UsageError(str(error)) from None
    profile = profile.for_driver(target.driver)
    release = config.getoption("release") or target.status.get("version") or "unknown"
    reports = Path(config.getoption("reports_dir"))
    gate_record = _gate(config, reports, env, release, min(phases))
    started = datetime.now(UTC)
    label = "all" if phases == set(range(1, 9)) else "-".join(str(p) for p in sorted(phases))
    run_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{env}-phase-{label}"
    run_dir = reports / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    config.stash[PROFILE] = profile
    config.stash[TARGET] = target
    config.stash[RESULTS] = []
    config.stash[RUN] = {"id": run_id, "env": env, "phases": sorted(phases), "dir": run_dir,
                         "started": started.isoformat(timespec="seconds"), "monotonic": time.monotonic(),
                         "release": release, "gate": gate_record, "waivers": waivers}
    config.option.xmlpath = str(run_dir / "junit.xml")
    config.option.cucumber_json_path = str(run_dir / "cucumber.json")


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


def _waivers(specs: Path, requirement_ids: set[str]) -> list[Waiver]:
    """The waivers (an expired one is named and no longer counts); a named signing key that cannot be loaded
    stops the run now, not after it."""
    try:
        waivers = load_waivers(specs / "waivers.yaml", requirement_ids)
        signing.signing_key()
    except (SpecError, signing.SigningError) as error:
        raise pytest.UsageError(str(error)) from None
    for waiver in waivers:
        if not waiver.active(datetime.now(UTC).date()):
            print(f"edupro-verify: the waiver of {waiver.requirement} expired on {waiver.expires}; it no longer counts",
                  file=sys.stderr)
    return waivers


def _gate(config: pytest.Config, reports: Path, env: str, release: str, phase: int) -> dict[str, Any]:
    """The phase gate: the previous phase's verified report, or a refusal (written down when --no-gate overrides)."""
    try:
        return chain.gate(reports, env, release, phase)
    except chain.GateClosed as error:
        if not config.getoption("no_gate"):
            raise pytest.UsageError(str(error)) from None
        return {"phase": phase, "predecessor": None, "overridden": True, "refusal": str(error)}


def _phase_of(item: pytest.Item) -> int | None:
    for mark in item.iter_markers():
        if mark.name.startswith("phase-"):
            return int(mark.name.removeprefix("phase-"))
    return None


def requirements_of(item: pytest.Item) -> list[str]:
    return sorted({m.name.removeprefix("REQ-") for m in item.iter_markers() if m.name.startswith("REQ-")})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN in config.stash:  # before -m/-k deselect: which requirements have a scenario at all
        config.stash[RUN]["with_scenarios"] = {r for item in items for r in requirements_of(item)}
    _select(config, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    if RUN in session.config.stash:
        session.config.stash[RUN]["selected"] = {r for item in session.items for r in requirements_of(item)}


def _select(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN not in config.stash:
        if any(_phase_of(i) is not None for i in items):
            raise pytest.UsageError("choose an environment: pytest --env development|staging|production")
        return
    phases = set(config.stash[RUN]["phases"]) | {0}
    profile = config.stash[PROFILE]
    keep, drop = [], []
    for item in items:
        (keep if _phase_of(item) in phases else drop).append(item)
        reqs = requirements_of(item)
        tags = [m.name for m in item.iter_markers() if m.name in profile.not_applicable_tags]
        if reqs and all(r in profile.not_applicable for r in reqs):
            reasons = "; ".join(profile.not_applicable[r] for r in reqs)
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {reasons}"))
        elif tags:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {profile.not_applicable_tags[tags[0]]}"))
    if drop:
        config.hook.pytest_deselected(items=drop)
    # Roll-ups read the results of the others, so they run last.
    items[:] = sorted(keep, key=lambda i: i.get_closest_marker("compliance") is not None)


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Profile:
    return request.config.stash[PROFILE]


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    return request.config.stash[TARGET]


@pytest.fixture(scope="session")
def run_info(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.config.stash[RUN]


@pytest.fixture(scope="session")
def results_so_far(request: pytest.FixtureRequest) -> list[ScenarioResult]:
    return request.config.stash[RESULTS]


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    return Evidence(request.node.stash[ITEM_RESULT])


@pytest.fixture
def context() -> dict[str, Any]:
    """What one step hands to the next within a scenario."""
    return {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if RUN not in item.config.stash:
        return
    item.stash[ITEM_RESULT] = ScenarioResult(nodeid=item.nodeid, feature="", scenario=item.name,
                                             requirements=requirements_of(item), phase=_phase_of(item) or 0)


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    if ITEM_RESULT in request.node.stash:
        result = request.node.stash[ITEM_RESULT]
        result.feature, result.scenario = Path(feature.filename).name, scenario.name


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if RUN not in item.config.stash or ITEM_RESULT not in item.stash:
        return report
    result = item.stash[ITEM_RESULT]
    if report.skipped and call.excinfo is not None:
        reason = str(call.excinfo.value.msg) if hasattr(call.excinfo.value, "msg") else str(call.excinfo.value)
        result.status, result.reason = "not_applicable", reason.removeprefix("not applicable: ")
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, AssertionError):
            result.status, result.reason = "failed", _one_line(str(error).split("\nassert ")[0])
        else:
            kind = "" if isinstance(error, ProbeError) else f"{type(error).__name__}: "
            result.status, result.reason = "error", "could not run: " + kind + _one_line(str(error))
    result.duration_seconds = round(result.duration_seconds + call.duration, 3)
    if call.when == "teardown":
        item.config.stash[RESULTS].append(result)
    return report


def build_evidence(config: pytest.Config) -> dict[str, Any]:
    run, profile, target = config.stash[RUN], config.stash[PROFILE], config.stash[TARGET]
    scenarios = config.stash[RESULTS]
    # A requirement whose scenarios -m or -k left out is not in this run; one without any is a gap.
    left_out = run.get("with_scenarios", set()) - run.get("selected", set())
    in_scope = {rid: req for rid, req in profile.requirements.items() if rid not in left_out}
    results = summarise(in_scope, scenarios, set(run["phases"]) | {0}, profile.not_applicable, run["waivers"])
    return {
        "run": {"id": run["id"], "env": run["env"], "release": run["release"], "phases": run["phases"],
                "started": run["started"], "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "duration_seconds": round(time.monotonic() - run["monotonic"], 2), "suite_version": __version__,
                "gate": run["gate"]},
        "target": {"base_url": target.base_url, "host": target.host_spec, "driver": target.driver,
                   "hosts": [label for label in target.hosts if label] or [target.host_spec],
                   "database": f"{target.database.get('host')}:{target.database.get('port')}/{target.database.get('name')}",
                   "prometheus_url": target.prometheus_url},
        "profile": {"description": profile.description, "relaxed": profile.relaxed,
                    "not_applicable": profile.not_applicable},
        "tools": scanner_versions(),
        "phases": phase_verdicts(results),
        "not_selected": sorted(left_out),
        "requirements": {rid: vars(r) for rid, r in results.items()},
        "scenarios": [vars(s) | {"measurements": [vars(m) for m in s.measurements]} for s in scenarios],
    }


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if RUN not in config.stash or hasattr(config, "workerinput") or config.option.collectonly:
        return
    run_dir = write_run(config.stash[RUN]["dir"], build_evidence(config), config.stash[TARGET].secrets.values())
    config.stash[RUN]["written"] = run_dir


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if RUN not in config.stash or "written" not in config.stash[RUN]:
        return
    evidence = json.loads((config.stash[RUN]["written"] / "evidence.json").read_text())
    write = terminalreporter.write_line
    write("")
    write(f"EduPro verification of '{evidence['run']['env']}' (release {evidence['run']['release']})")
    for phase, verdict in evidence["phases"].items():
        counts = ", ".join(f"{v} {k}" for k, v in verdict["counts"].items() if v)
        write(f"  phase {phase} {PHASES[int(phase)]}: {verdict['verdict'].upper()} ({counts})")
    for rid, req in evidence["requirements"].items():
        if req["status"] in ("failed", "error", "not_covered"):
            write(f"  {req['status'].upper():12} {rid}: {req['reason']}")
    write(f"report: {config.stash[RUN]['written'] / 'report.html'}")

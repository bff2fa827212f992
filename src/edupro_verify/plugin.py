"""The pytest plugin: `pytest --env NAME [--phase N|N-M]` verifies a deployment, phase by phase.

Only hooks live here; each hands its job to a module of edupro_verify.suite (options, run, selection,
outcome, summary) or to the report writer.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from .evidence import Evidence, Findings, ScenarioResult, Unmet
from .report import write_run
from .spec import PHASES, Profile, SpecError, load_requirements
from .suite import options, outcome, selection, summary
from .suite.run import Run, start
from .targets import Target

RUN = pytest.StashKey[Run]()
ITEM_RESULT = pytest.StashKey[ScenarioResult]()
FINDINGS = pytest.StashKey[Findings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add(parser)


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
    _stop_on_signals(config)
    run = start(config, env, specs)
    config.stash[RUN] = run
    _quiet_terminal(config)
    config.option.xmlpath = str(run.dir / "junit.xml")
    config.option.cucumber_json_path = str(run.dir / "cucumber.json")


def _stop_on_signals(config: pytest.Config) -> None:
    """Ctrl-C and SIGTERM (a CI timeout) stop a run the same way: pytest's interruption, which tears the fixtures
    down (the suite's own rows leave the target) and writes the run folder marked as interrupted. SIGINT is set
    explicitly: a run started in the background by a shell inherits it ignored. The handlers before are restored
    when the run ends; a worker process or another thread than the main one is left alone."""
    if hasattr(config, "workerinput") or threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    for signum in (signal.SIGINT, signal.SIGTERM):
        config.add_cleanup(functools.partial(signal.signal, signum, signal.signal(signum, interrupt)))


def _quiet_terminal(config: pytest.Config) -> None:
    """A person reads one line per failed requirement (the summary), not pytest's tracebacks through the fixture
    machinery: those only when asked for (--tb, -r)."""
    if config.option.tbstyle == "auto":  # not chosen on the command line, in addopts or PYTEST_ADDOPTS
        config.option.tbstyle = "no"
    if config.option.reportchars == "fE":  # pytest's default: its short summary repeats the failures with tracebacks
        config.option.reportchars = ""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # made before this plugin's configure: it read the option already
            reporter.reportchars = ""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        if any(selection.phase_of(i) is not None for i in items):
            raise pytest.UsageError("choose an environment: pytest --env development|staging|production")
        return
    # before -m/-k deselect: which requirements have a scenario at all
    run.with_scenarios = {r for item in items for r in selection.requirements_of(item)}
    selection.select(config, items, set(run.phases) | {0}, run.profile)


def pytest_collection_finish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is not None:
        run.scenarios_selected = Counter(r for item in session.items for r in selection.requirements_of(item))
        run.selected = set(run.scenarios_selected)


@pytest.fixture(scope="session")
def this_run(request: pytest.FixtureRequest) -> Run:
    """The run under way: its id, environment, release, folder, gate and the results so far."""
    return request.config.stash[RUN]


@pytest.fixture(scope="session")
def profile(this_run: Run) -> Profile:
    return this_run.profile


@pytest.fixture(scope="session")
def target(this_run: Run) -> Target:
    return this_run.target


@pytest.fixture
def evidence(request: pytest.FixtureRequest, this_run: Run) -> Evidence:
    return Evidence(request.node.stash[ITEM_RESULT], this_run.profile, request.node.stash.get(FINDINGS, None))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if RUN in item.config.stash:
        # The scenario's own name from the start: a scenario skipped as not applicable never reaches
        # pytest_bdd_before_scenario, and its name is what the requirement's reason quotes.
        template = scenario_wrapper_template_registry.get(getattr(item, "function", None))
        # junit.xml carries them per test case, as requirement-mapping importers (Xray: `requirements`) read them.
        item.user_properties += [("requirements", ",".join(selection.requirements_of(item))),
                                 ("phase", str(selection.phase_of(item) or 0))]
        item.stash[FINDINGS] = Findings()
        item.stash[ITEM_RESULT] = ScenarioResult(nodeid=item.nodeid,
                                                 feature=Path(template.feature.filename).name if template else "",
                                                 scenario=template.name if template else item.name,
                                                 requirements=selection.requirements_of(item),
                                                 phase=selection.phase_of(item) or 0)


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    if ITEM_RESULT in request.node.stash:
        result = request.node.stash[ITEM_RESULT]
        result.feature, result.scenario = Path(feature.filename).name, scenario.name


def pytest_bdd_before_step(request: pytest.FixtureRequest, step: Any) -> None:
    if FINDINGS in request.node.stash:  # a Then step's unmet expectations are collected, not the first one alone
        request.node.stash[FINDINGS].collect = step.type == "then"


def pytest_bdd_step_error(request: pytest.FixtureRequest, exception: BaseException) -> None:
    if FINDINGS in request.node.stash:
        request.node.stash[FINDINGS].stopped_by = exception


def pytest_bdd_after_scenario(request: pytest.FixtureRequest) -> None:
    findings = request.node.stash.get(FINDINGS, None)
    in_flight = sys.exc_info()[1]  # pytest-bdd calls this from a finally: an interruption or a skip goes on as it is
    if findings is not None and findings.sentences and findings.stopped_by is None and in_flight is None:
        raise Unmet(findings.sentences)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if RUN in item.config.stash and ITEM_RESULT in item.stash:
        outcome.record(item.stash[ITEM_RESULT], report, call, item.stash.get(FINDINGS, None))
        if call.when == "teardown":
            item.config.stash[RUN].results.append(item.stash[ITEM_RESULT])
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None or hasattr(session.config, "workerinput") or session.config.option.collectonly:
        return
    run.document = run.evidence(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
    run.written = write_run(run.dir, run.document, run.target.secrets.values(), run.trust,
                            print_pdf=not session.config.getoption("no_pdf"), problems=run.problems)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None and run.document is not None and run.written is not None:
        summary.write(run.document, str(run.written / "report.html"), terminalreporter.write_line)
        for problem in run.problems:
            terminalreporter.write_line(problem)

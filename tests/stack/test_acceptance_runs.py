"""The suite against the clean stack: green, repeatedly, leaving no trace; refusing bad targets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
import yaml

from tests.helpers import REPO, one_clear_line, run_cli, run_suite, server_errors

from .test_api import owner_connection

BUSINESS_TABLES = ("students", "grades", "enrolments", "classes", "teachers", "users")
# Loaded with -p: the scenarios in reverse order, the compliance roll-ups still last (they read the others).
REVERSE = """
import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    roll_ups = [i for i in items if i.get_closest_marker("compliance")]
    others = [i for i in items if not i.get_closest_marker("compliance")]
    items[:] = others[::-1] + roll_ups
"""


def checksums(stack: dict[str, Any]) -> dict[str, str]:
    with owner_connection(stack) as conn:
        return {t: conn.execute(f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x").fetchone()[0]
                for t in BUSINESS_TABLES}


def green_run(stack: dict[str, Any], reports: Path, what: str, *args: str, whole: bool = True,
              env: dict[str, str] | None = None, pdf: bool = False) -> dict[str, Any]:
    """One run of the development profile that must have no failed and no error result (a whole run: every
    requirement covered); its evidence."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    result = run_suite("--env", "development", f"--reports-dir={reports}", "-q", "-p", "no:randomly",
                       *args, env=env, pdf=pdf)
    latest = reports / "latest" / "evidence.json"
    assert latest.exists(), f"{what}: no report: {result.stdout[-1500:]}"
    evidence = json.loads(latest.read_text())
    bad_statuses = ("failed", "error", "not_covered") if whole else ("failed", "error")
    bad = {rid: r["reason"] for rid, r in evidence["requirements"].items() if r["status"] in bad_statuses}
    assert result.returncode == 0 and not bad, (f"{what}: {bad or result.stdout[-1500:]}; "
                                                f"the servers logged: {server_errors(stack, started)}")
    assert_valid_evidence(evidence)
    return dict(evidence)


def verdicts(evidence: dict[str, Any]) -> dict[str, str]:
    """Each scenario's status; without the suite's own (phase 0) and the compliance roll-ups, whose verdicts are
    about the other requirements of the same run by design. By scenario, not by requirement: a requirement may have
    scenarios in several phases (APP-04's scan is in phase 1), so a phase alone judges it on fewer."""
    return {f"{s['feature']}: {s['scenario']}": s["status"] for s in evidence["scenarios"]
            if s["phase"] != 0 and s["feature"] != "compliance.feature"}


# The load scenario is judged with the machine to itself (the quiet group: tests/stack/test_load_distributed.py runs
# it on a clean stack and requires PERF-01 and PERF-02 to pass); these runs beside other groups leave it out.
NO_LOAD = "not load"


def test_clean_stack_is_green_in_any_order_every_time_and_left_untouched(stack: dict[str, Any], tmp_path: Path) -> None:
    """Green in the usual order, in reverse order and each phase on its own, with the same verdicts each time (a
    scenario's verdict does not depend on what ran before it); the business tables as they were, no fixture left."""
    before = checksums(stack)
    usual = green_run(stack, tmp_path / "usual", "the usual order", "-m", NO_LOAD, pdf=True)
    assert_printed(tmp_path / "usual" / "latest", usual)
    (tmp_path / "reverse_order.py").write_text(REVERSE)
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    reversed_ = verdicts(green_run(stack, tmp_path / "reversed", "the reverse order", "-m", NO_LOAD, "-p", "reverse_order",
                                   env={"PYTHONPATH": path}))
    expected = verdicts(usual)
    assert reversed_ == expected, {name: (expected.get(name), s) for name, s in reversed_.items() if expected.get(name) != s}
    alone: dict[str, str] = {}
    for phase in range(1, 9):  # the roll-ups left out: alone, their controls are neither in the run nor in a chain
        alone |= verdicts(green_run(stack, tmp_path / f"phase{phase}", f"phase {phase} alone", f"--phase={phase}",
                                    "--no-gate", "-m", f"not compliance and {NO_LOAD}", whole=False))
    assert set(alone) == set(expected), f"scenarios run alone and in the usual order differ: {set(alone) ^ set(expected)}"
    differ = {name: (expected.get(name), s) for name, s in alone.items() if expected.get(name) != s}
    assert not differ, f"a phase run on its own gives other verdicts (usual, alone): {differ}"
    print("clean baseline: green in the usual order, in reverse order and each phase alone, with the same verdicts")
    assert checksums(stack) == before, "the suite changed the business tables"
    with owner_connection(stack) as conn:
        leftovers = conn.execute("SELECT count(*) FROM users WHERE username LIKE 'edupro-verify%'").fetchone()[0]
    assert leftovers == 0


def assert_printed(run: Path, evidence: dict[str, Any]) -> None:
    """report.pdf of a real run: every requirement ID in its text, A4, listed in the signed manifest."""
    text = subprocess.run(["pdftotext", str(run / "report.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    missing = [rid for rid in evidence["requirements"] if rid not in text]
    assert not missing, f"report.pdf does not show {missing}"
    info = subprocess.run(["pdfinfo", str(run / "report.pdf")], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info, info
    assert "  report.pdf\n" in (run / "MANIFEST.sha256").read_text()


def assert_valid_evidence(evidence: dict[str, Any]) -> None:
    """A real run's evidence.json validates against the schema `edupro-verify schema` prints, and every
    measurement says whether it was compared (passed, failed) or only recorded."""
    printed = run_cli("schema")
    assert printed.returncode == 0, printed.stderr
    jsonschema.validate(evidence, json.loads(printed.stdout))
    assert evidence["schema_version"] == 3
    verdicts = {m["verdict"] for r in evidence["requirements"].values() for m in r["measured"]}
    assert verdicts <= {"passed", "failed", "recorded"} and "passed" in verdicts


def profile_with(tmp_path: Path, target: dict[str, Any]) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("requirements.yaml", "architecture.yaml", "waivers.yaml"):
        (specs / name).write_text((Path(__file__).resolve().parents[2] / "specs" / name).read_text())
    (specs / "environments").mkdir()
    (specs / "environments" / "remote.yaml").write_text(yaml.safe_dump({
        "description": "a target named by hand", "target": target,
        "load": {"users": 1, "spawn_rate": 1, "duration": "1 s"}}))
    return specs


def secrets_file(tmp_path: Path, stack: dict[str, Any], **override: str) -> str:
    real = json.loads(Path(stack["paths"]["secrets"]).read_text())
    values = {"database_password": real["owner_password"], "redis_password": real["redis_password"], **override}
    path = tmp_path / "secrets.yaml"
    path.write_text(yaml.safe_dump(values))
    os.chmod(path, 0o600)
    return str(path)


def hand_target(stack: dict[str, Any], **changes: Any) -> dict[str, Any]:
    db = stack["database"]
    target = {"host": "local://", "base_url": stack["base_url"],
              "database": {"host": db["host"], "port": db["port"], "name": db["name"], "user": db["owner_role"]},
              "cache": stack["cache"]}
    target.update(changes)
    return target


def run_remote(tmp_path: Path, target: dict[str, Any], secrets: str) -> Any:
    specs = profile_with(tmp_path, target)
    return run_suite("--env", "remote", f"--specs={specs}", "--collect-only", "-q", env={"EDUPRO_VERIFY_SECRETS": secrets})


def test_an_unreachable_url_is_refused(stack: dict[str, Any], tmp_path: Path) -> None:
    result = run_remote(tmp_path, hand_target(stack, base_url="https://127.0.0.1:1"), secrets_file(tmp_path, stack))
    assert result.returncode == 4 and "unreachable" in one_clear_line(result)


def test_an_unreachable_database_is_refused(stack: dict[str, Any], tmp_path: Path) -> None:
    target = hand_target(stack)
    target["database"]["port"] = 1
    result = run_remote(tmp_path, target, secrets_file(tmp_path, stack))
    assert result.returncode == 4 and "unreachable" in one_clear_line(result)


def test_a_wrong_database_password_is_refused(stack: dict[str, Any], tmp_path: Path) -> None:
    result = run_remote(tmp_path, hand_target(stack), secrets_file(tmp_path, stack, database_password="wrong"))
    assert result.returncode == 4 and "refused the password" in one_clear_line(result)


def test_a_wrong_cache_password_is_refused(stack: dict[str, Any], tmp_path: Path) -> None:
    result = run_remote(tmp_path, hand_target(stack), secrets_file(tmp_path, stack, redis_password="wrong"))
    assert result.returncode == 4 and "cache refused the password" in one_clear_line(result)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_stops_at_once_and_leaves_nothing_behind(stack: dict[str, Any], tmp_path: Path,
                                                                    signum: signal.Signals) -> None:
    """Ctrl-C, or a CI timeout's SIGTERM, during the load scenario: the run stops within seconds with its load
    generator, the suite's fixtures leave the database, and the run folder says it was interrupted."""
    reports = tmp_path / "reports"
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-pdf", "--env", "development",
                            "--no-gate", "-m", "load", f"--reports-dir={reports}"], cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None and not load_generator_of(run.pid):
            time.sleep(0.5)
        assert load_generator_of(run.pid), f"the load scenario never started: {run.communicate()[0][-1500:]}"
        time.sleep(3)  # the load is under way
        generators = load_generator_of(run.pid)
        run.send_signal(signum)
        sent = time.monotonic()
        output = run.communicate(timeout=60)[0]
        stopped = time.monotonic() - sent
    finally:
        if run.poll() is None:  # never leave a run loading the stack behind a failed assertion
            run.kill()
            run.wait()
    assert stopped < 15, f"the run went on {stopped:.0f} s after {signum.name}"
    with owner_connection(stack) as conn:
        users = conn.execute("SELECT count(*) FROM users WHERE username LIKE 'edupro-verify%'").fetchone()[0]
        students = conn.execute("SELECT count(*) FROM students WHERE student_no LIKE 'VX-%'").fetchone()[0]
    assert (users, students) == (0, 0), f"fixtures left after {signum.name}: {users} accounts, {students} students"
    evidence = json.loads((reports / "latest" / "evidence.json").read_text())
    assert evidence["run"]["interrupted"] is True
    assert "INTERRUPTED" in output and "Traceback" not in output, output[-1500:]
    running = [p.pid for p in generators if still_running(p)]
    assert not running, f"the load generator still runs after {signum.name}: {running}"


def still_running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def load_generator_of(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if "load/run.py" in " ".join(p.cmdline())]
    except psutil.Error:
        return []

"""Bad input gets one clear line, a distinct exit code and no traceback (the suite, its CLI, deploy.sh).

Exit codes: pytest's 4 for a usage error (bad spec, environment, target or credentials), 1 for
checks that failed; edupro-verify 2 for bad usage, 1 for a failed verification; deploy.sh 2.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from edupro_verify import signing
from tests.helpers import REPO, deploy, one_clear_line, run_cli, run_suite

USAGE = 4


def edit_yaml(relative: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(specs: Path) -> None:
        path = specs / relative
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return apply


def write(relative: str, text: str) -> Callable[[Path], None]:
    def apply(specs: Path) -> None:
        (specs / relative).write_text(text)
    return apply


def remove(relative: str) -> Callable[[Path], None]:
    return lambda specs: (specs / relative).unlink()


DEV = "environments/development.yaml"
SPEC_CASES = {
    "requirements file missing": (remove("requirements.yaml"), "requirements.yaml: file not found"),
    "requirements file empty": (write("requirements.yaml", ""), "the file is empty"),
    "requirements YAML syntax": (write("requirements.yaml", "HW-01: [unclosed\n"), "requirements.yaml: line"),
    "requirement unknown key": (edit_yaml("requirements.yaml", lambda d: d["HW-01"].update(colour="red")),
                                "HW-01.colour: Extra inputs are not permitted"),
    "requirement missing title": (edit_yaml("requirements.yaml", lambda d: d["HW-02"].pop("title")), "HW-02.title: Field required"),
    "requirement wrong type": (edit_yaml("requirements.yaml", lambda d: d["HW-03"].update(phase="one")), "HW-03.phase"),
    "profile empty": (write(DEV, ""), "development.yaml: the file is empty"),
    "profile YAML syntax": (write(DEV, "target: {discover: deploy.sh\n"), "development.yaml: line"),
    "profile is a list": (write(DEV, "- a\n- b\n"), "expected a mapping at the top level"),
    "profile unknown key": (edit_yaml(DEV, lambda d: d.update(colour="red")), "colour: Extra inputs are not permitted"),
    "profile missing target": (edit_yaml(DEV, lambda d: d.pop("target")), "target: Field required"),
    "profile missing load": (edit_yaml(DEV, lambda d: d.pop("load")), "load: Field required"),
    "load users wrong type": (edit_yaml(DEV, lambda d: d["load"].update(users="many")), "load.users"),
    "load duration without unit": (edit_yaml(DEV, lambda d: d["load"].update(duration="15")), "load.duration"),
    "threshold of the wrong unit": (edit_yaml(DEV, lambda d: d["thresholds"].update(
        {"PERF-01": {"reason": "r", "max_p95": "<= 100 GB"}})), "thresholds.PERF-01.max_p95: expected a duration"),
    "threshold without comparator": (edit_yaml(DEV, lambda d: d["thresholds"].update(
        {"PERF-01": {"reason": "r", "max_p95": "100 ms"}})), "thresholds.PERF-01.max_p95: expected a limit like '<= 100 ms'"),
    "threshold with its comparator flipped": (edit_yaml(DEV, lambda d: d["thresholds"].update(
        {"PERF-01": {"reason": "r", "max_p95": ">= 100 ms"}})), "thresholds.PERF-01.max_p95: the comparator must stay '<='"),
    "threshold with an unknown comparator": (edit_yaml(DEV, lambda d: d["thresholds"].update(
        {"HW-02": {"reason": "r", "min_memory": "=> 2 GB"}})), "thresholds.HW-02.min_memory: '=> 2 GB' is not a limit"),
    "catalogue limit with an unknown unit": (edit_yaml("requirements.yaml", lambda d: d["HW-02"].update(
        thresholds={"min_memory": ">= 8 parsecs"})), "requirements.yaml: HW-02.min_memory: '8 parsecs' is not a quantity"),
    "threshold unknown key": (edit_yaml(DEV, lambda d: d["thresholds"].update(
        {"HW-02": {"reason": "r", "min_ram": ">= 2 GB"}})), "thresholds.HW-02.min_ram: unknown threshold"),
    "threshold without reason": (edit_yaml(DEV, lambda d: d["thresholds"].update({"HW-02": {"min_memory": ">= 2 GB"}})),
                                 "thresholds.HW-02.reason: missing"),
    "threshold of an unknown requirement": (edit_yaml(DEV, lambda d: d["thresholds"].update(
        {"HW-99": {"reason": "r"}})), "thresholds.HW-99: no such requirement"),
    "not applicable unknown requirement": (edit_yaml(DEV, lambda d: d["not_applicable"].update({"XX-01": "r"})),
                                           "not_applicable.XX-01: no such requirement"),
    "waiver file YAML syntax": (write("waivers.yaml", "waivers: [\n"), "waivers.yaml: line"),
    "waiver without justification": (write("waivers.yaml", "waivers:\n  - requirement: HW-01\n    approver: Lead\n"
                                           "    expires: 2030-01-01\n"), "waivers.yaml: line 2: justification"),
    "waiver of an unknown requirement": (write("waivers.yaml", "waivers:\n  - requirement: NO-01\n    justification: "
                                               "long enough text\n    approver: Lead\n    expires: 2030-01-01\n"),
                                         "NO-01 is not in specs/requirements.yaml"),
    "waiver with a bad date": (write("waivers.yaml", "waivers:\n  - requirement: HW-01\n    justification: long enough "
                                     "text\n    approver: Lead\n    expires: someday\n"), "line 2: expires"),
}


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO / "specs", tmp_path / "specs"))


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_a_broken_spec_is_named_with_its_key(case: str, specs: Path) -> None:
    mutate, message = SPEC_CASES[case]
    mutate(specs)
    result = run_suite("--env", "development", f"--specs={specs}", "--collect-only", "-q")
    assert result.returncode == USAGE
    assert message in one_clear_line(result)


@pytest.mark.parametrize("args, message", [
    (["--env", "nowhere"], "unknown environment 'nowhere'"),
    (["--env", "development", "--phase", "9"], "there are eight phases"),
    (["--env", "development", "--phase", "two"], "write N, N-M or N,M"),
    (["--env", "development", "--phase", "5-2"], "there are eight phases"),
], ids=["unknown env", "phase 9", "phase not a number", "phase range backwards"])
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    result = run_suite(*args, "--collect-only", "-q")
    assert result.returncode == USAGE
    assert message in one_clear_line(result)


def test_a_missing_signing_key_stops_the_run_at_once(tmp_path: Path) -> None:
    result = run_suite("--env", "development", "--collect-only", "-q",
                       env={"EDUPRO_SIGNING_KEY": str(tmp_path / "absent.key")})
    assert result.returncode == USAGE
    assert "signing key" in one_clear_line(result) and "keygen" in one_clear_line(result)


@pytest.mark.parametrize("secrets_text, message", [
    (None, "file not found"),
    ("- just\n- a list\n", "expected a mapping"),
], ids=["secrets file missing", "secrets file malformed"])
def test_bad_secrets_are_refused(tmp_path: Path, secrets_text: str | None, message: str) -> None:
    path = tmp_path / "secrets.yaml"
    if secrets_text is not None:
        path.write_text(secrets_text)
    result = run_suite("--env", "development", "--collect-only", "-q", env={"EDUPRO_VERIFY_SECRETS": str(path)})
    assert result.returncode == USAGE
    assert message in one_clear_line(result)


def test_verify_refuses_a_folder_that_is_not_a_report(tmp_path: Path) -> None:
    result = run_cli("verify", str(tmp_path))
    assert result.returncode == 2
    assert "not a signed run folder" in one_clear_line(result)


def test_verify_refuses_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    result = run_cli("verify", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "not a folder" in one_clear_line(result)


def test_approve_without_a_key_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "evidence.json").write_text("{}")
    signing.sign(run, signing.signing_key()[0])
    result = run_cli("approve", str(run), "--role", "security", "--key", str(tmp_path / "none.key"), "--approver", "ISO")
    assert result.returncode == 2
    assert "not found" in one_clear_line(result)


@pytest.mark.parametrize("args, message", [
    (["launch"], "unknown verb 'launch'"),
    (["up", "--env", "moon"], "unknown environment 'moon'"),
    (["release", ""], "release version '' is not of the form MAJOR.MINOR.PATCH"),
    (["release", "latest"], "release version 'latest' is not of the form MAJOR.MINOR.PATCH"),
], ids=["deploy unknown verb", "deploy unknown env", "deploy empty release version", "deploy release 'latest'"])
def test_deploy_refuses_bad_usage(args: list[str], message: str) -> None:
    result = deploy(*args)
    assert result.returncode == 2
    assert message in one_clear_line(result)


@pytest.mark.parametrize("args, message", [
    (["--env", "staging", "--phase", "9"], "there are eight phases"),
    (["--env", "production", "--phase", "two"], "write N, N-M or N,M"),
    (["--env", "moon"], "unknown environment 'moon'"),
    (["--env", "staging", "--specs=/nonexistent"], "unknown environment 'staging'"),
], ids=["verify staging phase 9", "verify production phase not a number", "verify unknown env", "verify specs missing"])
def test_verify_checks_its_arguments_before_anything_is_made(args: list[str], message: str) -> None:
    """`deploy.sh verify` refuses bad arguments before anything is made: none of the lab servers the repository's
    profiles name is created (other test groups make their own servers meanwhile, at other addresses)."""
    before = lab_servers()
    result = deploy("verify", *args)
    assert result.returncode == USAGE and message in one_clear_line(result), result.stderr
    assert lab_servers() <= before, f"lab servers made before the arguments were checked: {lab_servers() - before}"


def lab_servers() -> set[str]:
    """The containers of the lab servers the repository's profiles name (staging .10, production .20-.23)."""
    if not shutil.which("docker"):
        return set()
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    return {n for n in names.split() if n in ("edupro-lab-staging-10", "edupro-lab-registry-5",
                                              *(f"edupro-lab-production-{i}" for i in range(20, 24)))}

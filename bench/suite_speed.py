"""1. Suite speed: a full development run without load, per-check times, time to first result; and our
TLS phase beside testssl.sh against the same endpoint."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from edupro_verify.spec import load_profile
from edupro_verify.targets import resolve

from .common import PYTHON, REPO, Figure, median, progress

RESULT = re.compile(r"\b(PASSED|FAILED|ERROR|SKIPPED)\b")


def _run_suite(*args: str) -> tuple[float, float | None, Path, int]:
    """Wall time, time to the first scenario result, the report folder and the exit code of one run."""
    reports = Path(tempfile.mkdtemp(prefix="edupro-bench-"))
    command = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "--env", "development", "--no-gate",
               f"--reports-dir={reports}", "-v", *args]
    started = time.monotonic()
    first: float | None = None
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if first is None and "::" in line and RESULT.search(line):
                first = time.monotonic() - started
    return time.monotonic() - started, first, reports, proc.returncode


def suite(quick: bool) -> list[Figure]:
    progress("suite speed: a full development run without the load scenarios")
    wall, first, reports, code = _run_suite("-m", "not load")
    evidence = json.loads((reports / "latest" / "evidence.json").read_text())
    durations = [s["duration_seconds"] for s in evidence["scenarios"] if s["status"] != "not_selected"]
    slowest = max(evidence["scenarios"], key=lambda s: s["duration_seconds"])
    figures = [
        Figure("suite_wall_time_without_load", wall, "s"),
        Figure("suite_exit_code", code),
        Figure("suite_scenarios", len(durations)),
        Figure("suite_median_check_time", median(durations) * 1000, "ms"),
        Figure("suite_slowest_check", f"{slowest['scenario']} ({slowest['duration_seconds']:.1f} s)"),
        Figure("suite_time_to_first_result", first if first is not None else float("nan"), "s"),
        Figure("suite_parallel_n2", "not supported (scenarios share one stack and mutate it in order)"),
    ]
    return figures + tls_side_by_side()


def tls_side_by_side() -> list[Figure]:
    progress("TLS: our TLS phase (sslyze) beside testssl.sh against the same endpoint")
    ours, _, _, _ = _run_suite("-m", "REQ-TLS-01 or REQ-TLS-03 or REQ-TLS-04")
    endpoint = urlparse(resolve(load_profile("development")).base_url).netloc  # the stack the run verified
    started = time.monotonic()
    subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--protocols", "--std",
                    "--server-defaults", "--headers", endpoint], capture_output=True, text=True)
    testssl = time.monotonic() - started
    return [Figure("tls_phase_ours", ours, "s"), Figure("tls_testssl", testssl, "s"),
            Figure("tls_ratio_testssl_over_ours", testssl / ours, "x")]

"""A scenario's outcome as a result: passed, failed (an expectation did not hold), error (the check could not
run, with why), not applicable (the profile says so)."""

from __future__ import annotations

import pytest

from ..errors import ProbeError
from ..evidence import ScenarioResult


def one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def record(result: ScenarioResult, report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    if report.skipped and call.excinfo is not None:
        reason = str(call.excinfo.value.msg) if hasattr(call.excinfo.value, "msg") else str(call.excinfo.value)
        result.status, result.reason = "not_applicable", reason.removeprefix("not applicable: ")
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, AssertionError):
            result.status, result.reason = "failed", one_line(str(error).split("\nassert ")[0])
        else:
            kind = "" if isinstance(error, ProbeError) else f"{type(error).__name__}: "
            result.status, result.reason = "error", "could not run: " + kind + one_line(str(error))
    result.duration_seconds = round(result.duration_seconds + call.duration, 3)

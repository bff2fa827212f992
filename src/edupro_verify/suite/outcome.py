"""A scenario's outcome as a result: passed, failed (an expectation did not hold), error (the check could not
run, with why), not applicable (the profile says so)."""

from __future__ import annotations

import json
import re

import psycopg
import pytest
import requests

from ..errors import ProbeError
from ..evidence import Findings, ScenarioResult, Unmet


def one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def record(result: ScenarioResult, report: pytest.TestReport, call: pytest.CallInfo[None],
           findings: Findings | None = None) -> None:
    if report.skipped and call.excinfo is not None:
        reason = str(call.excinfo.value.msg) if hasattr(call.excinfo.value, "msg") else str(call.excinfo.value)
        result.status, result.reason = "not_applicable", reason.removeprefix("not applicable: ")
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        unmet = [one_line(s) for s in findings.sentences] if findings and not isinstance(error, Unmet) else []
        if isinstance(error, Unmet):
            result.status, result.reason = "failed", "; ".join(one_line(s) for s in error.sentences)
        elif isinstance(error, AssertionError):
            result.status, result.reason = "failed", "; ".join([*unmet, one_line(str(error).split("\nassert ")[0])])
        elif unmet:  # expectations had failed before the check stopped: the verdict is theirs, the stop is said too
            result.status, result.reason = "failed", "; ".join([*unmet, "then it could not go on: " + why(error)])
        else:
            result.status, result.reason = "error", "could not run: " + why(error)
    result.duration_seconds = round(result.duration_seconds + call.duration, 3)


def why(error: BaseException | None) -> str:
    """Why a check could not run, as a sentence a QA engineer acts on (never an exception's class name)."""
    text = one_line(str(error)) if error is not None else ""
    if error is None or isinstance(error, ProbeError):
        return text
    if isinstance(error, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)):
        missing = re.search(r'(relation|column) "([^"]+)"', text)
        thing = f"{missing.group(1).replace('relation', 'table')} {missing.group(2)} is missing" if missing else text
        return f"the database has no EduPro schema: {thing}"
    if isinstance(error, psycopg.OperationalError):
        return f"the database could not be reached or refused the query: {text}"
    if isinstance(error, psycopg.Error):
        return f"the database refused the check's query: {text}"
    if isinstance(error, json.JSONDecodeError):  # requests' JSONDecodeError is one too
        return "an answer of the target is not JSON (an error page, or not an EduPro API)"
    if isinstance(error, requests.RequestException):
        return f"a request to the target failed: {text}"
    if isinstance(error, KeyError):
        return f"an answer of the target lacks the field {text}"
    if isinstance(error, TimeoutError):
        return f"the target did not answer in time: {text}"
    return f"unexpected problem in the check: {text or 'no message'}"

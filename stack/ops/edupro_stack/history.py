"""The deployment history (OPS-06) and the deployment log with INFO / ERROR / SUCCESS lines (ENV-03)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from .layout import Layout


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def log(layout: Layout, level: str, message: str) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    with layout.deployment_log.open("a") as handle:
        handle.write(f"{_now()} [{level}] {message}\n")


@contextmanager
def deployment(layout: Layout, action: str, env: str, **details: Any) -> Iterator[dict[str, Any]]:
    """Record one deployment: start, end, duration and outcome, whatever happens inside."""
    record: dict[str, Any] = {"action": action, "env": env, **details, "started": _now()}
    started = time.monotonic()
    log(layout, "INFO", f"{action} started ({env})")
    try:
        yield record
    except BaseException as error:
        record.update(outcome="failed", error=str(error).splitlines()[0] if str(error) else type(error).__name__)
        if action == "migration":
            record["rollback_required"] = True
        log(layout, "ERROR", f"{action} failed: {record['error']}")
        raise
    else:
        record["outcome"] = "succeeded"
        log(layout, "SUCCESS", f"{action} finished")
    finally:
        record.update(finished=_now(), duration_seconds=round(time.monotonic() - started, 2))
        with layout.history.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

"""The fault run's tally, printed last as `faults: N injected, M caught, K missed`; the quiet tests kept apart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

TALLY: dict[str, list[str]] = {"injected": [], "caught": [], "missed": []}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY["injected"]:
        return
    for name in TALLY["missed"]:
        terminalreporter.write_line(f"missed fault: {name}")
    terminalreporter.write_line(f"faults: {len(TALLY['injected'])} injected, {len(TALLY['caught'])} caught, "
                                f"{len(TALLY['missed'])} missed")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """EDUPRO_TEST_QUIET=only keeps the tests marked `quiet` (they measure time or load: tests/groups.py runs them
    alone), =none leaves them out; unset, every test runs."""
    wanted = os.environ.get("EDUPRO_TEST_QUIET", "")
    if wanted not in ("only", "none"):
        return
    here = Path(__file__).parent  # the project's tests only: the suite runs they start inherit the variable
    keep = [item for item in items if here not in item.path.parents
            or (item.get_closest_marker("quiet") is not None) == (wanted == "only")]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep

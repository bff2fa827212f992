"""The fault run's tally, printed last as `faults: N injected, M caught, K missed`."""

from __future__ import annotations

from typing import Any

TALLY: dict[str, list[str]] = {"injected": [], "caught": [], "missed": []}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY["injected"]:
        return
    for name in TALLY["missed"]:
        terminalreporter.write_line(f"missed fault: {name}")
    terminalreporter.write_line(f"faults: {len(TALLY['injected'])} injected, {len(TALLY['caught'])} caught, "
                                f"{len(TALLY['missed'])} missed")

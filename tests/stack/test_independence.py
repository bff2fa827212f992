"""A scenario's verdict does not depend on what ran before it: the development profile in reverse order, and
each phase on its own, give the verdicts of a run in the usual order."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.helpers import run_suite

# Loaded with -p: the scenarios in reverse order, the compliance roll-ups still last (they read the others).
REVERSE = '''
import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    roll_ups = [i for i in items if i.get_closest_marker("compliance")]
    others = [i for i in items if not i.get_closest_marker("compliance")]
    items[:] = others[::-1] + roll_ups
'''


def statuses(reports: Path) -> dict[str, str]:
    """Each requirement's status; without the suite's own (phase 0) and the compliance roll-ups, whose verdicts
    are about the other requirements of the same run by design."""
    evidence = json.loads((reports / "latest" / "evidence.json").read_text())
    roll_ups = {rid for s in evidence["scenarios"] if s["feature"] == "compliance.feature" for rid in s["requirements"]}
    return {rid: r["status"] for rid, r in evidence["requirements"].items()
            if r["status"] != "not_covered" and r["phase"] != 0 and rid not in roll_ups}


def run(reports: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = run_suite("--env", "development", "--no-gate", f"--reports-dir={reports}", "-q", "-p", "no:randomly",
                       *args, env=env)
    assert result.returncode == 0, result.stdout[-2500:]
    return statuses(reports)


def test_verdicts_do_not_depend_on_the_order(stack: dict[str, Any], tmp_path: Path) -> None:
    usual = run(tmp_path / "usual")
    (tmp_path / "reverse_order.py").write_text(REVERSE)
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    reversed_ = run(tmp_path / "reversed", "-p", "reverse_order", env={"PYTHONPATH": path})
    assert reversed_ == usual, {rid: (usual.get(rid), s) for rid, s in reversed_.items() if usual.get(rid) != s}
    alone: dict[str, str] = {}
    for phase in range(1, 9):
        alone |= run(tmp_path / f"phase{phase}", f"--phase={phase}")
    differ = {rid: (usual.get(rid), s) for rid, s in alone.items() if usual.get(rid) != s}
    assert not differ, f"a phase run on its own gives other verdicts (usual, alone): {differ}"

"""Phase reports form a chain: three phases verify end to end, a missing link is caught, and the
gate refuses a phase without its predecessor unless overridden, which the report then says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edupro_verify import signing
from tests.helpers import REPO, one_clear_line, run_cli, run_suite


def newest_run(reports: Path) -> Path:
    return sorted(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink())[-1]


def pinned_specs(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of specs/ whose trust folder pins a QA key made for the test, and the environment that signs with it."""
    specs = Path(shutil.copytree(REPO / "specs", tmp_path / "specs"))
    key = tmp_path / "qa.key"
    shutil.copy(signing.keygen(key), specs / "trust" / "qa" / "test-qa.pub.pem")
    return specs, {"EDUPRO_SIGNING_KEY": str(key)}


def test_three_phase_chain_and_the_gate(stack: dict[str, Any], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    specs, signed = pinned_specs(tmp_path)
    trust = f"--trust={specs / 'trust'}"
    runs = []
    for phase in ("1", "2", "3"):
        result = run_suite("--env", "development", "--phase", phase, f"--reports-dir={reports}", f"--specs={specs}",
                           "-q", env=signed)
        assert result.returncode == 0, result.stdout[-800:]
        runs.append(newest_run(reports))
    chained = run_cli("verify", "--chain", trust, *map(str, runs))
    assert chained.returncode == 0, chained.stdout
    skipped_link = run_cli("verify", "--chain", trust, str(runs[0]), str(runs[2]))
    assert skipped_link.returncode == 1 and "chain broken" in skipped_link.stdout

    refused = run_suite("--env", "development", "--phase", "5", f"--reports-dir={reports}", f"--specs={specs}", "-q",
                        env=signed)
    assert refused.returncode == 4
    assert "needs a verified passing report of phase 4" in one_clear_line(refused)

    unpinned = run_suite("--env", "development", "--phase", "4", f"--reports-dir={reports}", "-q", env=signed)
    assert unpinned.returncode == 4, "the repository's specs do not pin the test's key: phase 3's report opens nothing"
    assert "signed by a pinned QA key" in one_clear_line(unpinned)

    forced = run_suite("--env", "development", "--phase", "5", "--no-gate", f"--reports-dir={reports}", "-q")
    assert forced.returncode == 0, forced.stdout[-800:]
    folder = newest_run(reports)
    assert json.loads((folder / "evidence.json").read_text())["run"]["gate"]["overridden"] is True
    assert "gate overridden (--no-gate)" in (folder / "report.html").read_text()

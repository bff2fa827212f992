"""What people look at, in Debian's Chromium: a report's cover and matrix (the frontend's pages: test_pages.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from tests.helpers import run_suite


def test_report_cover_and_matrix_show_the_verdicts(browser: Browser, stack: dict[str, Any], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = run_suite("--env", "development", "--phase", "3", "--no-gate", f"--reports-dir={reports}", "-q")
    assert run.returncode in (0, 1), run.stderr[-500:]
    folder = next(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((folder / "report.html").as_uri())
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the report scrolls sideways in a 1280-px window: {widths}"
    cover = page.locator("#cover")
    assert "development" in cover.inner_text()
    assert page.locator("#unsigned").is_visible()  # no QA key in the test: the cover must say so
    phase_row = page.locator("#phases tr", has_text="Phase 3")
    assert phase_row.is_visible() and phase_row.locator(".badge").inner_text() in ("passed", "failed")
    rows = page.locator("#matrix tr[id^=req-]")
    assert rows.count() >= 11  # phase 3's eleven requirements, plus the suite's own
    assert page.locator("#req-TLS-04 .badge").inner_text() == "passed"
    matrix = page.locator("#matrix").inner_text()
    for repr_mark in ("{'", "['", "None", "True", "False"):  # values for people, never a Python repr
        assert repr_mark not in matrix, f"the matrix shows a repr ({repr_mark!r})"
    hsts = page.locator("#req-TLS-04 .facts li", has_text="HSTS max-age").inner_text()
    assert " s " in hsts + " " and "required >=" in hsts, f"a number without its unit or limit: {hsts}"
    cover.screenshot(path=str(tmp_path / "cover.png"))
    page.locator("#matrix").screenshot(path=str(tmp_path / "matrix.png"))

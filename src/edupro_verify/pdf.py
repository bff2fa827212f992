"""report.pdf: the run's HTML report printed by headless Chromium (Debian's), A4, page numbers in the footer.

Printed from the redacted report.html, before the manifest is signed, so the PDF is listed and covered too.
A run that cannot print (no Chromium here) still writes everything else and says why in one line.
"""

from __future__ import annotations

import html
from pathlib import Path

from .evidence import EvidenceDocument

FILE = "report.pdf"
CHROMIUM = Path("/usr/bin/chromium")
# Offline: printing a local file needs no network, and Chromium should not reach for any.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


class PdfError(Exception):
    """The PDF could not be printed; the message says why and what to do."""


def write(run_dir: Path, document: EvidenceDocument, chromium: Path = CHROMIUM) -> Path:
    if not chromium.exists():
        raise PdfError(f"report.pdf not written: no Chromium at {chromium} (apt-get install chromium, or pass --no-pdf)")
    from playwright.sync_api import Error, sync_playwright  # a browser's driver, loaded only to print

    run = document.run
    header = (f'<div style="font-size:7pt;width:100%;padding:0 10mm;color:#6b7280">EduPro verification — '
              f'{html.escape(run.env)}, release {html.escape(run.release)}, run {html.escape(run.id)}</div>')
    footer = ('<div style="font-size:7pt;width:100%;padding:0 10mm;text-align:right;color:#6b7280">'
              'page <span class="pageNumber"></span> of <span class="totalPages"></span></div>')
    path = run_dir / FILE
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=FLAGS, headless=True)
            try:
                page = browser.new_page()
                page.goto((run_dir / "report.html").resolve().as_uri(), wait_until="load")
                page.pdf(path=str(path), format="A4", print_background=True, display_header_footer=True,
                         header_template=header, footer_template=footer,
                         margin={"top": "14mm", "bottom": "16mm", "left": "10mm", "right": "10mm"})
            finally:
                browser.close()
    except Error as error:
        raise PdfError(f"report.pdf not written: Chromium failed ({str(error).splitlines()[0][:160]})") from None
    return path

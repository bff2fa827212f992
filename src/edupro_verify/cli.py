"""edupro-verify: the auditor's command line (filled in by the reports work)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("edupro-verify: no command yet", file=sys.stderr)
    return 2

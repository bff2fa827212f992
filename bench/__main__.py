"""python -m bench [--quick] [--only PART ...]: measure the suite, the stack and the deploy script, and
print every figure as `name: value unit`, last. Figures, not tests: nothing here passes or fails.

Parts: suite (suite speed, TLS beside testssl.sh), capacity (locust steps, wrk ceiling), deploy (cold,
warm, down), downtime (releases and rollbacks under a probe), recovery (backup/restore, shipped and 100x).
The stack must be up (./deploy.sh up); the deploy part stops it, times a scratch one, and starts it again.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime

from urllib3.exceptions import InsecureRequestWarning

from edupro_verify.errors import TargetError

from . import capacity as capacity_part
from .capacity import capacity
from .common import Figure, progress
from .deploy_time import deploy_time
from .downtime import downtime
from .recovery import recovery
from .suite_speed import suite

PARTS: dict[str, Callable[[bool], list[Figure]]] = {
    "suite": suite, "capacity": capacity, "deploy": deploy_time, "downtime": downtime, "recovery": recovery,
}


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.freedesktop_os_release().get('PRETTY_NAME', platform.system())}, {os.cpu_count()} cores, {memory:.0f} GiB"


def _steps(text: str) -> list[int]:
    try:
        steps = [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of user counts like 250,500") from None
    if not steps or min(steps) < 1 or steps != sorted(steps):
        raise argparse.ArgumentTypeError(f"'{text}': user counts must be positive and increasing")
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="small steps and short runs (under 3 minutes)")
    parser.add_argument("--only", nargs="+", choices=list(PARTS), metavar="PART", help=f"some of: {', '.join(PARTS)}")
    parser.add_argument("--steps", type=_steps, metavar="N,N,...",
                        help=f"capacity: the user counts to step through (default {','.join(map(str, capacity_part.STEPS_FULL))})")
    args = parser.parse_args()
    if args.steps:
        capacity_part.STEPS_FULL = capacity_part.STEPS_QUICK = args.steps
    warnings.filterwarnings("ignore", category=InsecureRequestWarning)  # development's certificate is self-signed
    started = time.monotonic()
    figures = [Figure("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")), Figure("machine", machine()),
               Figure("mode", "quick" if args.quick else "full")]
    failed = []
    try:
        for name in args.only or list(PARTS):
            progress(f"--- {name} ---")
            try:
                figures += PARTS[name](args.quick)
            except SystemExit as failure:  # a part that could not finish says why; the others still run
                failed.append(name)
                figures.append(Figure(f"{name}_not_measured", str(failure.code).removeprefix("bench: ")))
            except Exception as failure:  # any part's failure is one line, and the other parts still run
                failed.append(name)
                reason = str(failure).strip().splitlines()[0][:200] if str(failure).strip() else "no message"
                figures.append(Figure(f"{name}_not_measured", f"the part stopped: {reason}"))
    except TargetError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; figures so far follow", file=sys.stderr)
    figures.append(Figure("bench_wall_time", time.monotonic() - started, "s"))
    print("\n".join(f.line() for f in figures))
    if failed:
        print(f"bench: not measured: {', '.join(failed)} (the reasons are above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the locustfile in library mode and print one JSON object of figures (a subprocess of the suite,
so gevent's monkey-patching stays out of the suite's own process).

    python load/run.py --host URL --users N --spawn-rate R --seconds S
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gevent
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).parent))
from locustfile import LOGIN, Student  # noqa: E402

SETTLE_SECONDS = 3

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--spawn-rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    args = p.parse_args()
    env = Environment(user_classes=[Student], host=args.host)
    runner = env.create_local_runner()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    # Steady state only: every user has spawned and logged in (bcrypt at cost 12 is slow by design).
    deadline = time.monotonic() + args.users / args.spawn_rate + 30
    while time.monotonic() < deadline and env.stats.get(LOGIN, "POST").num_requests < args.users:
        gevent.sleep(0.2)
    logins = env.stats.get(LOGIN, "POST")
    login_figures = {"logins": logins.num_requests, "login_failures": logins.num_failures,
                     "login_p95_ms": logins.get_response_time_percentile(0.95)}
    gevent.sleep(SETTLE_SECONDS)  # let the requests queued behind the log-ins drain
    env.stats.reset_all()
    gevent.sleep(args.seconds)
    users = runner.user_count
    runner.quit()
    total = env.stats.total
    print(json.dumps({
        "users": users, "seconds": args.seconds, "requests": total.num_requests, "failures": total.num_failures,
        "error_rate": total.fail_ratio, "p50_ms": total.get_response_time_percentile(0.5),
        "p95_ms": total.get_response_time_percentile(0.95), "p99_ms": total.get_response_time_percentile(0.99),
        "requests_per_second": total.num_requests / args.seconds, **login_figures,
        "errors": [f"{e.name}: {e.error}" for e in env.stats.errors.values()][:5],
    }))


if __name__ == "__main__":
    main()

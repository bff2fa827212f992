"""Run the locustfile and print one JSON object of figures (a subprocess of the suite, so gevent's
monkey-patching stays out of the suite's own process).

    python load/run.py --host URL --users N[,N2,...] --spawn-rate R --seconds S [--workers W]

Several user counts make a step test: users are added up to each count in turn (each logs in once), and
one JSON line is printed per step as soon as it is measured.

With --workers 0 (the default) Locust runs in library mode in this process; with W > 0 this process is a
Locust master and starts W local `locust --worker` processes, each with its own share of the accounts.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import gevent
from locust.env import Environment
from locust.runners import WORKER_REPORT_INTERVAL, Runner

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from locustfile import LOGIN, READY, Student, listen_for_ready  # noqa: E402

SETTLE_SECONDS = 5
# Log-ins still finishing after this long without one more finished: the target has stopped answering them.
LOGIN_STALL_SECONDS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_workers(count: int, port: int) -> list[subprocess.Popen[bytes]]:
    locust = str(Path(sys.executable).parent / "locust")
    return [subprocess.Popen([locust, "-f", str(HERE / "locustfile.py"), "--worker", "--master-host", "127.0.0.1",
                              "--master-port", str(port), "--loglevel", "WARNING"],
                             env={**os.environ, "EDUPRO_LOAD_SHARE": f"{index}/{count}"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for index in range(count)]


def wait_for_workers(runner: Runner, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(runner.clients.ready) < count:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(runner.clients.ready)} of {count} Locust workers connected")  # type: ignore[attr-defined]
        gevent.sleep(0.2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--users", required=True, help="a user count, or increasing counts separated by commas")
    p.add_argument("--spawn-rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--workers", type=int, default=0, help="0: library mode; N: a master and N local workers")
    args = p.parse_args()
    if args.workers and "," in args.users:
        p.error("a step test runs in library mode (--workers 0)")
    env = Environment(user_classes=[Student], host=args.host)
    workers: list[subprocess.Popen[bytes]] = []
    if args.workers:
        port = free_port()
        runner: Runner = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=port)
        workers = start_workers(args.workers, port)
        wait_for_workers(runner, args.workers)
    else:
        runner = env.create_local_runner()
        listen_for_ready(runner)
    try:
        for users in [int(n) for n in args.users.split(",")]:
            print(json.dumps({**measure(env, runner, users, args), "workers": args.workers,
                              "mode": "distributed" if args.workers else "library"}), flush=True)
    finally:
        runner.quit()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


def wait_for_logins(env: Environment, count: int) -> None:
    """Steady state only: every new user has logged in. Users arrive at the spawn rate, but bcrypt at cost 12
    decides how fast they are logged in (a few a second per core, by design), so the wait follows the log-ins
    themselves, for as long as they keep finishing."""
    start = seen = logins_finished(env)
    changed = time.monotonic()
    while seen - start < count and time.monotonic() - changed < LOGIN_STALL_SECONDS:
        gevent.sleep(0.2)
        if logins_finished(env) != seen:
            seen, changed = logins_finished(env), time.monotonic()


def logins_finished(env: Environment) -> int:
    """Looked up each time: Locust replaces its statistics' entries when the first users start."""
    return env.stats.get(LOGIN, "POST").num_requests


def measure(env: Environment, runner: Runner, users: int, args: argparse.Namespace) -> dict[str, object]:
    already = runner.user_count  # users of the earlier steps, logged in already
    runner.start(users, spawn_rate=args.spawn_rate)
    wait_for_logins(env, users - already)
    logins = env.stats.get(LOGIN, "POST")
    login_figures = {"logins": logins.num_requests, "login_failures": logins.num_failures,
                     "login_p95_ms": logins.get_response_time_percentile(0.95)}
    runner.send_message(READY)  # the users begin (or go on with) their journeys
    gevent.sleep(SETTLE_SECONDS)  # each user's first think time (1–3 s) before the window opens
    env.stats.reset_all()
    gevent.sleep(args.seconds)
    running = runner.user_count
    if args.workers:  # workers report every few seconds: stop them and wait for their last report
        runner.stop()
        gevent.sleep(WORKER_REPORT_INTERVAL + 1)
    total = env.stats.total
    return {
        "users": running, "seconds": args.seconds, "requests": total.num_requests, "failures": total.num_failures,
        "error_rate": total.fail_ratio, "p50_ms": total.get_response_time_percentile(0.5),
        "p95_ms": total.get_response_time_percentile(0.95), "p99_ms": total.get_response_time_percentile(0.99),
        "requests_per_second": total.num_requests / args.seconds, **login_figures,
        "errors": [f"{e.name}: {e.error}" for e in env.stats.errors.values()][:5],
    }


if __name__ == "__main__":
    main()

"""2. Stack capacity: the student journey (load/locustfile.py, FastHttpUser, 1–3 s waits) stepped up until
p95 crosses the SLA or errors pass 1 %; beside it, this machine's ceiling measured with wrk."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from edupro_verify.probes import load
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.probes.http import Api
from edupro_verify.spec import load_profile, load_requirements
from edupro_verify.targets import resolve
from edupro_verify.units import parse

from .common import Figure, progress

STEPS_QUICK = [50, 100]
STEPS_FULL = [100, 250, 500, 1000, 1500, 2000]
SPAWN_RATE = 25  # log-ins per second asked for; bcrypt at cost 12 is what really paces them
LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", re.MULTILINE)


def capacity(quick: bool) -> list[Figure]:
    seed = load_requirements()  # the paper's numbers, not a profile's relaxed ones
    sla_ms = parse(str(seed["PERF-01"].thresholds["max_p95"])).value * 1000
    max_errors = parse(str(seed["PERF-02"].thresholds["max_error_rate"])).value
    seconds = 15 if quick else 30
    target = resolve(load_profile("development"))
    data = Fixtures(target)
    api = Api(target, purpose="EduPro capacity benchmark")
    held: dict[str, Any] | None = None
    figures: list[Figure] = []
    try:
        admin = target.account("administrator")
        token = api.login(admin.username, admin.password)
        students = [data.student(token, api, f"Bench Fixture {n}", f"bench{n}.{data.tag}@synthetic.edupro.invalid")
                    for n in range(10)]
        steps = STEPS_QUICK if quick else STEPS_FULL
        accounts = data.accounts(max(steps), students)
        for users in steps:
            progress(f"capacity: {users} users for {seconds} s (log-ins first)")
            result = load.run(target.base_url, accounts[:users], users, SPAWN_RATE, seconds)
            figures.append(Figure(f"capacity_step_{users}_users",
                                  f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, "
                                  f"{result['requests_per_second']:.0f} req/s, errors {result['error_rate']:.2%}"))
            if result["p95_ms"] > sla_ms or result["error_rate"] > max_errors or result["users"] < users:
                break
            held = result
    finally:
        data.remove_all()
    if held:
        figures += [Figure("capacity_users_held", held["users"]), Figure("capacity_p95", held["p95_ms"], "ms"),
                    Figure("capacity_p99", held["p99_ms"], "ms"),
                    Figure("capacity_requests_per_second", held["requests_per_second"], "req/s")]
    else:
        figures.append(Figure("capacity_users_held", 0))
    live = target.status["services"][f"backend_{target.status['live_colour']}"]["address"].split(",")[0]
    return figures + ceiling(target.base_url, f"http://{live}", quick)


def _wrk(url: str, seconds: int) -> tuple[float, str]:
    result = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url],
                            capture_output=True, text=True)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    latencies = " / ".join(f"p{m[0]} {m[1]} {m[2]}" for m in LATENCY.findall(result.stdout))
    return (float(rate.group(1)) if rate else float("nan")), latencies


def ceiling(base_url: str, backend_url: str, quick: bool) -> list[Figure]:
    seconds = 5 if quick else 15
    progress("ceiling: wrk against nginx (static file over TLS) and the backend's /health directly")
    static, static_latency = _wrk(f"{base_url}/index.html", seconds)
    health, health_latency = _wrk(f"{backend_url}/health", seconds)
    return [Figure("wrk_nginx_static_tls", static, "req/s"), Figure("wrk_nginx_static_tls_latency", static_latency),
            Figure("wrk_backend_health", health, "req/s"), Figure("wrk_backend_health_latency", health_latency)]

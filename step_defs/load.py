"""The service level under load (PERF-01, PERF-02): Locust with the suite's own student accounts."""

from __future__ import annotations

from typing import Any

from pytest_bdd import then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import load
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.spec import Profile
from edupro_verify.targets import Target
from edupro_verify.units import parse

from .common import quantity


@when("the student journey is run by the profile's number of simultaneous users", target_fixture="figures")
def run_load(target: Target, profile: Profile, suite_data: Fixtures, api: Any, tokens: Any) -> dict[str, Any]:
    users = profile.load.users
    students = [suite_data.student(tokens["administrator"], api, f"Load Fixture {n}", f"load{n}.{suite_data.tag}@synthetic.edupro.invalid")
                for n in range(min(users, 10))]
    accounts = suite_data.accounts(users, students)
    seconds = parse(profile.load.duration).value
    return load.run(target.base_url, accounts, users, profile.load.spawn_rate, seconds, profile.load.workers)


@then("the 95th percentile response time is within the limit")
def p95(figures: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    limit_ms = quantity(profile, "PERF-01", "max_p95") * 1000
    evidence.measure("p95", f"{figures['p95_ms']} ms", f"<= {limit_ms:.0f} ms")
    evidence.measure("p50 / p99", f"{figures['p50_ms']} / {figures['p99_ms']} ms")
    evidence.measure("throughput", f"{figures['requests_per_second']:.1f} req/s over {figures['seconds']:.0f} s "
                     f"({figures['requests']} requests)")
    evidence.measure("log-in p95 (bcrypt, outside the SLA)", f"{figures['login_p95_ms']} ms")
    evidence.measure("load generator", f"Locust, {figures['mode']} mode"
                     + (f", a master and {figures['workers']} workers" if figures["workers"] else ""))
    assert figures["requests"] > 0, "the load run made no request"
    assert figures["p95_ms"] <= limit_ms, f"p95 is {figures['p95_ms']} ms with {figures['users']} users, over {limit_ms:.0f} ms"


@then("the error rate is under the limit with at least the required users")
def errors(figures: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    limit = quantity(profile, "PERF-02", "max_error_rate")
    need = int(profile.threshold("PERF-02", "min_users"))
    evidence.measure("users", figures["users"], f">= {need}")
    evidence.measure("error rate", f"{figures['error_rate']:.2%}", f"< {limit:.0%}")
    assert figures["login_failures"] == 0, f"{figures['login_failures']} load users could not log in"
    assert figures["users"] >= need, f"only {figures['users']} users ran, the profile requires {need}"
    assert figures["error_rate"] < limit, f"error rate {figures['error_rate']:.2%}: {figures['errors'][:2]}"

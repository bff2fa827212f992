"""The service level under load (PERF-01, PERF-02): Locust with the suite's own student accounts."""

from __future__ import annotations

from typing import Any

from pytest_bdd import when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import load
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target
from edupro_verify.units import parse


@when("the student journey is run by the profile's number of simultaneous users", target_fixture="figures")
def run_load(target: Target, profile: Profile, suite_data: Fixtures, api: Any, tokens: Any) -> dict[str, Any]:
    users = profile.load.users
    students = [suite_data.student(tokens["administrator"], api, f"Load Fixture {n}", f"load{n}.{suite_data.tag}@synthetic.edupro.invalid")
                for n in range(min(users, 10))]
    accounts = suite_data.accounts(users, students)
    seconds = parse(profile.load.duration).value
    return load.run(target.base_url, accounts, users, profile.load.spawn_rate, seconds, profile.load.workers)


@then("the 95th percentile response time is within the limit")
def p95(figures: dict[str, Any], evidence: Evidence) -> None:
    source = f"Locust, {figures['mode']} mode" + (f", a master and {figures['workers']} workers" if figures["workers"] else "")
    evidence.record("p50", figures["p50_ms"], unit="ms", source=source)
    evidence.record("p99", figures["p99_ms"], unit="ms", source=source)
    evidence.record("throughput", round(figures["requests_per_second"], 1), unit="req/s", source=source)
    evidence.record("duration", round(figures["seconds"]), unit="s", source=source)
    evidence.record("log-in p95 (bcrypt, outside the SLA)", figures["login_p95_ms"], unit="ms", source=source)
    recovered = figures.get("recovered_after_seconds")
    evidence.record("healthy again after the load", recovered if recovered is not None else "not within 60 s",
                    unit="s" if recovered is not None else "", source="GET /health")
    evidence.expect_true("requests made", figures["requests"], figures["requests"] > 0, "at least one",
                         message="the load run made no request")
    evidence.expect(f"p95 with {figures['users']} users", figures["p95_ms"] / 1000, "max_p95", source=source)


@then("the error rate is under the limit with at least the required users")
def errors(figures: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_true("log-in failures", figures["login_failures"], figures["login_failures"] == 0, "none",
                         message=f"{figures['login_failures']} load users could not log in")
    evidence.expect("simultaneous users", figures["users"], "min_users")
    evidence.record("first errors", figures["errors"][:2])
    evidence.expect("error rate", figures["error_rate"], "max_error_rate")

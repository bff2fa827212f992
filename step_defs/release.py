"""Blue-green release and rollback under a probe, and the smoke journey (REL-01..03, ARCH-04)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes.http import Api, ContinuousProbe
from edupro_verify.steps import then
from edupro_verify.suite.run import Run
from edupro_verify.targets import Target

from .common import Tokens


def live_colour(api: Api) -> str:
    return str(api.get("/version").json().get("colour"))


def switch_under_probe(target: Target, api: Api, *args: str) -> dict[str, Any]:
    before = live_colour(api)
    with ContinuousProbe(target) as probe:
        result = target.deploy(*args)
    if result.returncode != 0:
        raise AssertionError(f"deploy.sh {' '.join(args)} failed: {result.stderr.strip()[-200:]}")
    return {"before": before, "after": live_colour(api), "probe": probe.count, "output": result.stdout.strip()}


@when("the current release is deployed onto the idle colour while a probe sends requests", target_fixture="switch")
def release(target: Target, api: Api) -> dict[str, Any]:
    version = str(api.get("/version").json()["version"])
    return switch_under_probe(target, api, "release", version)


@when("the release is rolled back while a probe sends requests", target_fixture="switch")
def rollback(target: Target, api: Api) -> dict[str, Any]:
    return switch_under_probe(target, api, "rollback")


@then("the probe saw no failed request")
def no_failures(switch: dict[str, Any], evidence: Evidence) -> None:
    count = switch["probe"]
    evidence.record("colours answering the probe", dict(count.seen))
    evidence.expect_true("probe requests", count.requests, count.requests > 10, "more than 10",
                         message=f"the probe made only {count.requests} requests")
    if count.failures:
        evidence.record("failed requests by kind", dict(count.kinds))
    evidence.expect(f"failed requests of {count.requests}", count.failures, "max_failed_requests",
                    detail=f"the probe saw: {count.failed_how()} (a new connection for every request)")


@then("the idle colour became live")
@then("the previous colour is live again")
def colour_changed(switch: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_true("live colour", {"before": switch["before"], "after": switch["after"]},
                         switch["after"] != switch["before"], "switched",
                         message=f"the live colour is still {switch['before']}")


@when("the smoke journey is run against the live release", target_fixture="smoke")
def smoke(api: Api, tokens: Tokens) -> dict[str, Any]:
    try:
        token = tokens["student"]
    except ProbeError as error:  # the profile's student cannot log in: the smoke journey fails at its first step
        raise AssertionError(f"the smoke journey's student cannot log in: {error}") from None
    record = api.get("/api/v1/students/me", token)
    prediction = api.post("/api/v1/predictions", token, json={"student_id": record.json().get("id")})
    return {"version": api.get("/version").json(), "record": record.status_code, "prediction": prediction.status_code}


@then("the version endpoint shows the release under verification")
def version_shown(smoke: dict[str, Any], this_run: Run, evidence: Evidence) -> None:
    live = str(smoke["version"].get("version"))
    evidence.expect_true("live version", live, live == this_run.release, f"{this_run.release} (the release under verification)",
                         message=f"the live version is {live}, the release under verification {this_run.release}")


@then("a student logs in, reads their record and gets a prediction")
def journey(smoke: dict[str, Any], evidence: Evidence) -> None:
    answers = {"record": smoke["record"], "prediction": smoke["prediction"]}
    evidence.expect_true("smoke journey", answers, smoke["record"] == 200 and smoke["prediction"] == 200, "200 and 200",
                         message=f"smoke journey failed: {answers}")

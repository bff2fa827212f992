"""Reachability between tiers and load balancing (PLAN-02, PLAN-03, APP-04)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlparse

from pytest_bdd import then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import network, proxy
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.targets import Target


@when("connections to every tier are attempted from outside the host and between tiers", target_fixture="matrix")
def reachability(target: Target) -> dict[str, Any]:
    return network.reachability(target)


@then("the web tier answers from outside")
def web_open(matrix: dict[str, Any], evidence: Evidence) -> None:
    web = {str(p): matrix["outside"][p] for _, p in matrix["tiers"]["web"]}
    closed = [p for p, ok in web.items() if not ok]
    evidence.record("web tier ports reachable", web, source="outside")
    evidence.expect_none("web tier ports not reachable", closed, source="outside",
                         message=f"web tier ports not reachable from outside: {', '.join(closed)}")


@then("the application and data tiers refuse connections from outside")
def inner_closed(matrix: dict[str, Any], evidence: Evidence) -> None:
    inner = {f"{tier} {p}": matrix["outside"][p] for tier in ("app", "data", "published")
             for _, p in matrix["tiers"][tier]}
    evidence.expect_none("application and data ports reachable", [k for k, ok in inner.items() if ok],
                         source="outside")


@then("the application tier is reachable from the web tier and the data tier from the application tier")
def inner_paths(matrix: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("web -> app", matrix["web_to_app"], source="web tier")
    evidence.record("app -> data", matrix["app_to_data"], source="application tier")
    closed = [k for part in ("web_to_app", "app_to_data") for k, ok in matrix[part].items() if not ok]
    evidence.expect_none("tier paths closed", closed,
                         message=f"a tier cannot reach the tier behind it: {', '.join(closed)}")


@when("every TCP port of the target's address is scanned from outside", target_fixture="scan")
def scan(target: Target) -> dict[str, Any]:
    address = urlparse(target.base_url).hostname or ""
    return {"address": address, "open": network.open_ports(address)}


@then("only the web ports and SSH accept a connection")
def only_published(scan: dict[str, Any], target: Target, evidence: Evidence) -> None:
    published = {p for _, p in network.tiers(target)["web"]}
    if target.host_spec.startswith("ssh://"):
        published.add(urlparse(target.host_spec.split("?", 1)[0]).port or 22)
    evidence.record("published ports (web tier, SSH)", sorted(published))
    evidence.record("ports open from outside (nmap, 1-65535)", {str(p): n for p, n in sorted(scan["open"].items())},
                    source=scan["address"])
    extra = [f"{p} ({n})" for p, n in sorted(scan["open"].items()) if p not in published]
    evidence.expect_none("ports open beyond the published ones", extra, source=scan["address"],
                         message=f"{scan['address']} accepts connections beyond the published ports: {', '.join(extra)}")


@when("a series of requests is sent through the proxy", target_fixture="served_by")
def spread(api: Api, profile: Profile) -> Counter[str]:
    count = int(profile.threshold("PLAN-03", "sample_requests"))
    seen: Counter[str] = Counter()
    for _ in range(count):
        response = api.get("/version")
        seen[str(response.json().get("instance", "?")) if response.status_code == 200 else f"status {response.status_code}"] += 1
    return seen


@then("every live backend instance serves a fair share of them")
def fair_share(served_by: Counter[str], target: Target, evidence: Evidence) -> None:
    instances = len(target.inventory.live_instances()) or 1
    evidence.record("requests per instance", dict(served_by))
    evidence.expect_true("instances answering", len(served_by), len(served_by) == instances,
                         f"all {instances} live instances",
                         message=f"{len(served_by)} of {instances} live instances answered: {dict(served_by)}")
    mean = sum(served_by.values()) / instances
    worst = max(abs(n - mean) for n in served_by.values()) / mean if served_by else 1.0
    evidence.expect("imbalance", worst, "max_imbalance")


@then("the proxy configuration uses round robin with health checks and no session affinity")
def balancing_config(target: Target, evidence: Evidence) -> None:
    upstream = proxy.upstream(proxy.configuration(target))
    evidence.expect_true("upstream block", upstream.present, upstream.present, "present",
                         message="the proxy configuration has no upstream block")
    evidence.record("upstream", upstream.text, source="nginx -T")
    evidence.expect_none("session affinity or non-round-robin directives", upstream.affinity,
                         message=f"the upstream uses {', '.join(upstream.affinity)} instead of round robin")
    evidence.expect_true("health check (max_fails)", upstream.health_checked, upstream.health_checked, "declared",
                         message="the upstream declares no health check (max_fails)")

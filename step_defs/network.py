"""Reachability between tiers and load balancing (PLAN-02, PLAN-03, APP-04)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from pytest_bdd import when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import network, proxy
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target


@when("connections to every tier are attempted from outside the host and between tiers", target_fixture="matrix")
def reachability(target: Target) -> dict[str, Any]:
    return network.reachability(target)


def _from_outside(matrix: dict[str, Any], tier: str) -> dict[str, bool]:
    """The connect attempts from outside to a tier's ports (on servers of their own: to each server's)."""
    if matrix.get("separate_hosts"):
        return {f"{a}:{p}": matrix["outside"][f"outside -> {a}:{p}"] for a, p in matrix["tiers"][tier]}
    return {f"{tier} {p}" if tier != "web" else str(p): matrix["outside"][p] for _, p in matrix["tiers"][tier]}


@then("the web tier answers from outside")
def web_open(matrix: dict[str, Any], evidence: Evidence) -> None:
    web = _from_outside(matrix, "web")
    closed = [p for p, ok in web.items() if not ok]
    evidence.record("web tier ports reachable", web, source="outside")
    evidence.expect_none("web tier ports not reachable", closed, source="outside",
                         message=f"web tier ports not reachable from outside: {', '.join(closed)}")


@then("the application and data tiers refuse connections from outside")
def inner_closed(matrix: dict[str, Any], evidence: Evidence) -> None:
    inner = {k: ok for tier in ("app", "data", "published") if tier in matrix["tiers"]
             for k, ok in _from_outside(matrix, tier).items()}
    if matrix.get("separate_hosts"):
        evidence.record("outside -> application and data servers", inner, source="this machine")
    evidence.expect_none("application and data ports reachable", [k for k, ok in inner.items() if ok],
                         source="outside")


@then("the application tier is reachable from the web tier and the data tier from the application tier")
def inner_paths(matrix: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("web -> app", matrix["web_to_app"], source="web tier")
    evidence.record("app -> data", matrix["app_to_data"], source="application tier")
    closed = [k for part in ("web_to_app", "app_to_data") for k, ok in matrix[part].items() if not ok]
    evidence.expect_none("tier paths closed", closed,
                         message=f"a tier cannot reach the tier behind it: {', '.join(closed)}")
    if "web_to_data" in matrix:  # servers of their own: the web tier must not reach past the application tier
        evidence.record("web -> data", matrix["web_to_data"], source="web tier")
        evidence.expect_none("data tier reachable from the web tier", [k for k, ok in matrix["web_to_data"].items() if ok],
                             message="the data tier accepts connections from the web tier: "
                                     + ", ".join(k for k, ok in matrix["web_to_data"].items() if ok))


@when("every TCP port of the target's address is scanned from outside", target_fixture="scan")
def scan(target: Target) -> dict[str, dict[str, Any]]:
    """The target's address; on servers of their own every server's, side by side. address -> open ports and
    the ports published there (the web ports on the web tier; SSH on every server reached over it)."""
    ssh = {urlparse(target.host_spec.split("?", 1)[0]).port or 22} if target.host_spec.startswith("ssh://") else set()
    web_ports = {p for _, p in network.tiers(target)["web"]}
    if network.on_their_own_hosts(target):
        published = {a: (web_ports if tier == "web" else set()) | ssh for tier in target.tier_hosts
                     for a in target.tier_addresses(tier)}
    else:
        published = {urlparse(target.base_url).hostname or "": web_ports | ssh}
    with ThreadPoolExecutor(len(published)) as pool:
        found = dict(zip(published, pool.map(network.open_ports, published), strict=True))
    return {a: {"open": found[a], "published": published[a]} for a in published}


@then("only the web ports and SSH accept a connection")
def only_published(scan: dict[str, dict[str, Any]], evidence: Evidence) -> None:
    failures = []
    for address, seen in scan.items():
        evidence.record("published ports (web tier, SSH)", sorted(seen["published"]), source=address)
        evidence.record("ports open from outside (nmap, 1-65535)", {str(p): n for p, n in sorted(seen["open"].items())},
                        source=address)
        extra = [f"{p} ({n})" for p, n in sorted(seen["open"].items()) if p not in seen["published"]]
        try:
            evidence.expect_none("ports open beyond the published ones", extra, source=address,
                                 message=f"{address} accepts connections beyond the published ports: {', '.join(extra)}")
        except AssertionError as error:
            failures.append(str(error).splitlines()[0])
    assert not failures, "; ".join(failures)


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

"""Reachability between tiers and load balancing (PLAN-02, PLAN-03, APP-04)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import urlparse

from pytest_bdd import then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import network, proxy
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def tiers(target: Target) -> dict[str, list[tuple[str, int]]]:
    """The addresses of each tier, as the target reports them."""
    services = target.status.get("services", {})
    web = [int(urlparse(target.base_url).port or 443)]
    if target.http_url:
        web.append(int(urlparse(target.http_url).port or 80))
    app = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1]))
           for name, svc in services.items() if name.startswith("backend_") and svc["state"] == "running"
           for a in svc["address"].split(",")]
    data = [(str(target.database["host"]), int(target.database["port"])),
            (str(target.cache["host"]), int(target.cache["port"]))]
    return {"web": [("0.0.0.0", p) for p in web], "app": app, "data": data}


@when("connections to every tier are attempted from outside the host and between tiers", target_fixture="matrix")
def reachability(target: Target) -> dict[str, Any]:
    t = tiers(target)
    ports = [p for tier in t.values() for _, p in tier]
    local = urlparse(target.base_url).hostname in LOOPBACK
    outside = network.from_outside(ports) if local else network.direct(urlparse(target.base_url).hostname or "", ports)
    # From where each tier runs: the proxy's and the live backend's containers, or the target host.
    web = target.service_host("proxy")
    app = target.service_host(f"backend_{target.status.get('live_colour')}")
    return {"tiers": t, "outside": outside,
            "web_to_app": {f"{a}:{p}": network.from_host(web, a, p) for a, p in t["app"]},
            "app_to_data": {f"{a}:{p}": network.from_host(app, a, p) for a, p in t["data"]}}


@then("the web tier answers from outside")
def web_open(matrix: dict[str, Any], evidence: Evidence) -> None:
    web = {p: matrix["outside"][p] for _, p in matrix["tiers"]["web"]}
    evidence.measure("outside -> web", web, "all open")
    assert all(web.values()), f"web tier ports not reachable from outside: {[p for p, ok in web.items() if not ok]}"


@then("the application and data tiers refuse connections from outside")
def inner_closed(matrix: dict[str, Any], evidence: Evidence) -> None:
    inner = {f"{tier} {p}": matrix["outside"][p] for tier in ("app", "data") for _, p in matrix["tiers"][tier]}
    evidence.measure("outside -> app, data", inner, "all closed")
    open_ports = [k for k, ok in inner.items() if ok]
    assert not open_ports, f"reachable from outside: {', '.join(open_ports)}"


@then("the application tier is reachable from the web tier and the data tier from the application tier")
def inner_paths(matrix: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("web -> app", matrix["web_to_app"], "open")
    evidence.measure("app -> data", matrix["app_to_data"], "open")
    closed = [k for part in ("web_to_app", "app_to_data") for k, ok in matrix[part].items() if not ok]
    assert not closed, f"a tier cannot reach the tier behind it: {', '.join(closed)}"


@when("a series of requests is sent through the proxy", target_fixture="served_by")
def spread(api: Api, profile: Profile) -> Counter[str]:
    count = int(profile.threshold("PLAN-03", "sample_requests"))
    seen: Counter[str] = Counter()
    for _ in range(count):
        response = api.get("/version")
        seen[str(response.json().get("instance", "?")) if response.status_code == 200 else f"status {response.status_code}"] += 1
    return seen


@then("every live backend instance serves a fair share of them")
def fair_share(served_by: Counter[str], target: Target, profile: Profile, evidence: Evidence) -> None:
    live = [s for s in target.status.get("services", {}).values() if s.get("live")]
    instances = sum(len(s["address"].split(",")) for s in live) or 1
    limit = float(str(profile.threshold("PLAN-03", "max_imbalance")).rstrip(" %")) / 100
    mean = sum(served_by.values()) / instances
    worst = max(abs(n - mean) for n in served_by.values()) / mean if served_by else 1.0
    evidence.measure("requests per instance", dict(served_by), f"{instances} instances, imbalance <= {limit:.0%}")
    assert len(served_by) == instances, f"{len(served_by)} of {instances} live instances answered: {dict(served_by)}"
    assert worst <= limit, f"imbalance {worst:.0%} exceeds {limit:.0%}: {dict(served_by)}"


@then("the proxy configuration uses round robin with health checks and no session affinity")
def balancing_config(target: Target, evidence: Evidence) -> None:
    config = proxy.configuration(target)
    upstream = re.search(r"upstream\s+\S+\s*\{([^}]*)\}", config)
    assert upstream, "the proxy configuration has no upstream block"
    body = upstream.group(1)
    affinity = [d for d in ("ip_hash", "hash ", "sticky", "least_conn", "random") if d in body]
    evidence.measure("upstream", " ".join(body.split()))
    assert not affinity, f"the upstream uses {', '.join(affinity)} instead of round robin"
    assert "max_fails" in body, "the upstream declares no health check (max_fails)"


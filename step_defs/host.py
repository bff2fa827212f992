"""Host facts: hardware, operating system, packages, versions of the running servers (phases 1 and 3)."""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pytest_bdd import then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import host as probe
from edupro_verify.probes import network
from edupro_verify.probes.database import scalar
from edupro_verify.spec import Profile
from edupro_verify.targets import Target
from edupro_verify.units import parse

from .common import quantity

GB = 1e9
T = TypeVar("T")


def on_every_host(target: Target, probe_one: Callable[[Any], T]) -> dict[str, T]:
    """The same probe on every host of the target at once (one thread each); label -> result."""
    hosts = target.hosts
    with ThreadPoolExecutor(len(hosts)) as pool:
        return dict(zip(hosts, pool.map(probe_one, hosts.values()), strict=True))


def named(label: str, what: str) -> str:
    return f"{label}: {what}" if label else what


def every_host(results: dict[str, T], check: Callable[[str, T], None]) -> None:
    """CHECK on each host's result; one failing host does not hide another (all are named in one line)."""
    failures = []
    for label, result in results.items():
        try:
            check(label, result)
        except AssertionError as error:  # pytest adds "\nassert ..." lines; the sentence is the first one
            failures.append(named(label, str(error).splitlines()[0]))
    assert not failures, "; ".join(failures)


@when("the host's processors are counted", target_fixture="cpu")
def count_cpu(target: Target) -> dict[str, probe.Cpu]:
    return on_every_host(target, probe.cpu)


@then("the host has at least the required cores and clock")
def enough_cpu(cpu: dict[str, probe.Cpu], profile: Profile, evidence: Evidence) -> None:
    cores, ghz = profile.threshold("HW-01", "min_cores"), quantity(profile, "HW-01", "min_clock") / 1e9

    def check(label: str, found: probe.Cpu) -> None:
        evidence.measure(named(label, "cores"), found.cores, f">= {cores}")
        evidence.measure(named(label, "clock"), f"{found.max_mhz / 1000:.2f} GHz", f">= {ghz} GHz")
        assert found.cores >= cores, f"the host has {found.cores} cores, the profile requires {cores}"
        assert found.max_mhz / 1000 >= ghz, f"the host's clock is {found.max_mhz / 1000:.2f} GHz, the profile requires {ghz}"
    every_host(cpu, check)


@when("the host's memory is measured", target_fixture="memory")
def measure_memory(target: Target) -> dict[str, int]:
    return on_every_host(target, probe.memory_bytes)


@then("the host has at least the required memory")
def enough_memory(memory: dict[str, int], profile: Profile, evidence: Evidence) -> None:
    need = quantity(profile, "HW-02", "min_memory")

    def check(label: str, found: int) -> None:
        evidence.measure(named(label, "memory"), f"{found / GB:.1f} GB", f">= {need / GB:.1f} GB")
        assert found >= need, f"the host has {found / GB:.1f} GB of memory, the profile requires {need / GB:.1f} GB"
    every_host(memory, check)


def data_volume(target: Target) -> probe.Volume:
    folder = target.paths.get("backups") or target.paths.get("logs")
    return probe.volume(target.host, str(folder.parent if folder else "/"))


@when("the volume holding the database is measured", target_fixture="volume")
def measure_volume(target: Target) -> probe.Volume:
    return data_volume(target)


@then("the volume has at least the required size and is solid-state where required")
def enough_storage(volume: probe.Volume, profile: Profile, evidence: Evidence) -> None:
    need, ssd = quantity(profile, "HW-03", "min_storage"), profile.threshold("HW-03", "require_ssd")
    evidence.measure("size", f"{volume.size_bytes / GB:.0f} GB ({volume.device})", f">= {need / GB:.0f} GB")
    evidence.measure("rotational", volume.rotational, "false" if ssd else "any")
    assert volume.size_bytes >= need, f"the data volume has {volume.size_bytes / GB:.0f} GB, the profile requires {need / GB:.0f} GB"
    if ssd:
        assert volume.rotational is False, f"the data volume {volume.device} is not reported as solid-state"


@when("the network speed between the tiers is measured", target_fixture="bandwidth")
def measure_bandwidth(target: Target) -> tuple[float, str]:
    speeds = probe.link_speeds_mbps(target.host)
    if speeds:
        name, speed = min(speeds.items(), key=lambda kv: kv[1])
        return float(speed), f"link speed of {name}"
    return network.loopback_throughput_mbps(), "measured TCP throughput between tiers on the host"


@then("the network reaches the required bandwidth")
def enough_bandwidth(bandwidth: tuple[float, str], profile: Profile, evidence: Evidence) -> None:
    need = quantity(profile, "HW-04", "min_bandwidth") / 1e6
    evidence.measure(bandwidth[1], f"{bandwidth[0]:.0f} Mbps", f">= {need:.0f} Mbps")
    assert bandwidth[0] >= need, f"{bandwidth[1]} is {bandwidth[0]:.0f} Mbps, the profile requires {need:.0f}"


@when("the host's operating system is read", target_fixture="os_release")
def read_os(target: Target) -> dict[str, dict[str, str]]:
    return on_every_host(target, probe.os_release)


@then("it is an accepted distribution and release")
def accepted_os(os_release: dict[str, dict[str, str]], profile: Profile, evidence: Evidence) -> None:
    accepted = profile.threshold("SW-01", "accepted_os")

    def check(label: str, found: dict[str, str]) -> None:
        evidence.measure(named(label, "operating system"), found.get("PRETTY_NAME"), accepted)
        assert probe.os_accepted(found, accepted), (
            f"{found.get('PRETTY_NAME')} is not accepted (accepted: "
            + ", ".join(f"{k} {v}+" for k, v in accepted.items()) + ")")
    every_host(os_release, check)


def at_least(found: str, required: str, what: str, evidence: Evidence) -> None:
    evidence.measure(f"{what} version", found, f">= {required}")
    assert probe.version_tuple(found) >= probe.version_tuple(required), f"{what} {found} is older than {required}"


@when("the running nginx is asked for its version", target_fixture="nginx_version")
def nginx_version(target: Target) -> str:
    return probe.process_binary_version(target.service_host("proxy"), "nginx").split("/")[-1]


@then("the nginx version is at least the required one")
def nginx_recent(nginx_version: str, profile: Profile, evidence: Evidence) -> None:
    at_least(nginx_version, profile.threshold("SW-04", "min_version"), "nginx", evidence)


@when("the running PostgreSQL is asked for its version", target_fixture="pg_version")
def pg_version(target: Target) -> str:
    with target.connect_db() as conn:
        return str(scalar(conn, "SHOW server_version")).split()[0]


@then("the PostgreSQL version is at least the required one")
def pg_recent(pg_version: str, profile: Profile, evidence: Evidence) -> None:
    at_least(pg_version, profile.threshold("SW-05", "min_version"), "PostgreSQL", evidence)


def capacity_plan(profile: Profile) -> dict[str, dict[str, float]]:
    """The paper's formula (§2.1.2): base x max(1, users / step) x margin, rounded up, per component."""
    t = profile.requirements["PLAN-01"].thresholds
    scale = max(1.0, t["expected_users"] / t["users_per_scale_step"])
    plan = {}
    for name, base in t["components"].items():
        plan[name] = {"cores": math.ceil(base["cores"] * scale * t["cpu_margin"]),
                      "memory_gb": math.ceil(parse_gb(base["memory"]) * scale * t["memory_margin"]),
                      "storage_gb": math.ceil(parse_gb(base["storage"]) * scale * t["storage_margin"])}
    return plan


def parse_gb(text: str) -> float:
    return parse(text).value / GB


@when("the capacity plan is computed with the paper's formula for the expected users", target_fixture="plan")
def compute_plan(profile: Profile, target: Target) -> dict[str, Any]:
    plan = capacity_plan(profile)
    total = {k: sum(c[k] for c in plan.values()) for k in ("cores", "memory_gb", "storage_gb")}
    provided = {"cores": probe.cpu(target.host).cores, "memory_gb": probe.memory_bytes(target.host) / GB,
                "storage_gb": data_volume(target).size_bytes / GB}
    return {"components": plan, "total": total, "provided": provided}


@then("the target provides at least the planned cores, memory and storage")
def plan_fits(plan: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("capacity plan", plan["components"])
    gaps = []
    for key, need in plan["total"].items():
        have = plan["provided"][key]
        evidence.measure(f"{key} provided", round(have, 1), f">= {need} planned")
        if have < need:
            gaps.append(f"{key} {have:.1f} < {need}")
    assert not gaps, "the target falls short of the capacity plan: " + "; ".join(gaps)

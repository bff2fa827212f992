"""Host facts: hardware, operating system, packages, versions of the running servers (phases 1 and 3)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import database, network
from edupro_verify.probes import host as probe
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import data_volume, every_host, on_every_host


@when("the host's processors are counted", target_fixture="cpu")
def count_cpu(target: Target) -> dict[str, probe.Cpu]:
    return on_every_host(target, probe.cpu)


@then("the host has at least the required cores and clock")
def enough_cpu(cpu: dict[str, probe.Cpu], evidence: Evidence) -> None:
    def check(label: str, found: probe.Cpu) -> None:
        evidence.expect("cores", found.cores, "min_cores", source=label)
        evidence.expect("clock", found.max_mhz * 1e6, "min_clock", source=label)
    every_host(cpu, check)


@when("the host's memory is measured", target_fixture="memory")
def measure_memory(target: Target) -> dict[str, int]:
    return on_every_host(target, probe.memory_bytes)


@then("the host has at least the required memory")
def enough_memory(memory: dict[str, int], evidence: Evidence) -> None:
    every_host(memory, lambda label, found: evidence.expect("memory", found, "min_memory", source=label))


@when("the volume holding the database is measured", target_fixture="volume")
def measure_volume(target: Target) -> probe.Volume:
    return data_volume(target)


@then("the volume has at least the required size and is solid-state where required")
def enough_storage(volume: probe.Volume, profile: Profile, evidence: Evidence) -> None:
    evidence.expect("size", volume.size_bytes, "min_storage", source=volume.device)
    evidence.record("rotational", volume.rotational, source=volume.device)
    if profile.threshold("HW-03", "require_ssd"):
        evidence.expect_true("solid-state", not volume.rotational, volume.rotational is False, "solid-state",
                             message=f"the data volume {volume.device} is not reported as solid-state")


@when("the network speed between the tiers is measured", target_fixture="bandwidth")
def measure_bandwidth(target: Target) -> tuple[float, str]:
    if network.on_their_own_hosts(target):  # between the servers: web -> each application server's frontend
        port = next(p for _, p in target.inventory.service("frontend").addresses)
        web = next(iter(target.tier("web").values()))
        measured = {a: network.http_throughput_mbps(web, a, port) for a in target.tier_addresses("app")}
        slowest = min(measured, key=lambda a: measured[a])
        return measured[slowest] * 1e6, (f"measured TCP throughput web {target.tier_addresses('web')[0]} -> "
                                         f"application server {slowest} (HTTP downloads)")
    speeds = probe.link_speeds_mbps(target.host)
    if speeds:
        name, speed = min(speeds.items(), key=lambda kv: kv[1])
        return float(speed) * 1e6, f"link speed of {name}"
    return network.loopback_throughput_mbps() * 1e6, "measured TCP throughput between tiers on the host"


@then("the network reaches the required bandwidth")
def enough_bandwidth(bandwidth: tuple[float, str], evidence: Evidence) -> None:
    evidence.expect(bandwidth[1], bandwidth[0], "min_bandwidth")


@when("the host's operating system is read", target_fixture="os_release")
def read_os(target: Target) -> dict[str, dict[str, str]]:
    return on_every_host(target, probe.os_release)


@then("it is an accepted distribution and release")
def accepted_os(os_release: dict[str, dict[str, str]], profile: Profile, evidence: Evidence) -> None:
    accepted = profile.threshold("SW-01", "accepted_os")
    wanted = ", ".join(f"{k} {v} or newer" for k, v in accepted.items())

    def check(label: str, found: dict[str, str]) -> None:
        evidence.expect_true("operating system", found.get("PRETTY_NAME"), probe.os_accepted(found, accepted),
                             wanted, source=label)
    every_host(os_release, check)


@when("the running nginx is asked for its version", target_fixture="nginx_version")
def nginx_version(target: Target) -> str:
    return probe.process_binary_version(target.service_host("proxy"), "nginx").split("/")[-1]


@then("the nginx version is at least the required one")
def nginx_recent(nginx_version: str, evidence: Evidence) -> None:
    evidence.expect("nginx version", nginx_version, "min_version")


@when("the running PostgreSQL is asked for its version", target_fixture="pg_version")
def pg_version(target: Target) -> str:
    with target.connect_db() as conn:
        return str(database.scalar(conn, "SHOW server_version")).split()[0]


@then("the PostgreSQL version is at least the required one")
def pg_recent(pg_version: str, evidence: Evidence) -> None:
    evidence.expect("PostgreSQL version", pg_version, "min_version")


@when("the capacity plan is computed with the paper's formula for the expected users", target_fixture="plan")
def compute_plan(profile: Profile, target: Target) -> dict[str, Any]:
    plan = probe.capacity_plan(profile.requirements["PLAN-01"].thresholds)
    total = {k: sum(c[k] for c in plan.values()) for k in ("cores", "memory_gb", "storage_gb")}
    # Every server's cores and memory count (the tiers on servers of their own); storage is the data volume's.
    cores = on_every_host(target, lambda host: probe.cpu(host).cores)
    memory = on_every_host(target, probe.memory_bytes)
    provided = {"cores": float(sum(cores.values())), "memory_gb": sum(memory.values()) / 1e9,
                "storage_gb": data_volume(target).size_bytes / 1e9}
    return {"components": plan, "total": total, "provided": provided,
            "per_host": {label or "the host": {"cores": cores[label], "memory_gb": round(memory[label] / 1e9, 1)}
                         for label in cores}}


@then("the target provides at least the planned cores, memory and storage")
def plan_fits(plan: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("capacity plan (paper's formula, per component)", plan["components"])
    evidence.record("planned in all", plan["total"])
    evidence.record("provided by each server", plan["per_host"])
    evidence.record("provided by the target", {k: round(v, 1) for k, v in plan["provided"].items()})
    gaps = [f"{key} {plan['provided'][key]:.1f} < {need}" for key, need in plan["total"].items()
            if plan["provided"][key] < need]
    evidence.expect_none("shortfalls against the plan", gaps,
                         message="the target falls short of the capacity plan: " + "; ".join(gaps))

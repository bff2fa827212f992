"""The prepared host: validation, packages, deployment log, firewall, fail2ban, Docker (phase 3)."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import then, when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import containers as container_probe
from edupro_verify.probes import host as probe
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import quantity
from .host import at_least, data_volume, every_host, named, on_every_host

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\S* \[(INFO|ERROR|SUCCESS)\] ")


@when("the host's operating system, memory, disk and cores are gathered", target_fixture="facts")
def gather(target: Target) -> dict[str, dict[str, Any]]:
    folder = data_volume(target).path  # the stack's data folder where a host has it, else its root volume
    return on_every_host(target, lambda host: {
        "os": probe.os_release(host), "memory": probe.memory_bytes(host),
        "disk": probe.volume(host, folder if host.file(folder).exists else "/").size_bytes,
        "cores": probe.cpu(host).cores})


@then("each of them meets the environment's minimum")
def host_valid(facts: dict[str, dict[str, Any]], profile: Profile, evidence: Evidence) -> None:
    def check(label: str, found: dict[str, Any]) -> None:
        checks = {
            "os": probe.os_accepted(found["os"], profile.threshold("SW-01", "accepted_os")),
            "memory": found["memory"] >= quantity(profile, "HW-02", "min_memory"),
            "disk": found["disk"] >= quantity(profile, "HW-03", "min_storage"),
            "cores": found["cores"] >= profile.threshold("HW-01", "min_cores"),
        }
        evidence.measure(named(label, "host"), {"os": found["os"].get("PRETTY_NAME"),
                                                "memory_gb": round(found["memory"] / 1e9, 1),
                                                "disk_gb": round(found["disk"] / 1e9), "cores": found["cores"]}, checks)
        failing = [k for k, ok in checks.items() if not ok]
        assert not failing, f"host validation fails on: {', '.join(failing)}"
    every_host(facts, check)


@when("the host's package database is read", target_fixture="missing")
def read_packages(target: Target, profile: Profile) -> dict[str, list[str]]:
    wanted = profile.threshold("ENV-02", "packages")
    return on_every_host(target, lambda host: probe.missing_packages(host, wanted))


@then("every base package is installed")
def packages_installed(missing: dict[str, list[str]], evidence: Evidence) -> None:
    def check(label: str, found: list[str]) -> None:
        evidence.measure(named(label, "missing base packages"), found, "none")
        assert not found, f"base packages not installed: {', '.join(found)}"
    every_host(missing, check)


@when("the deployment log is read", target_fixture="log_lines")
def read_log(target: Target) -> list[str]:
    log = target.host.file(str(target.path("deployment_log")))
    if not log.exists:
        raise AssertionError(f"there is no deployment log at {log.path}")
    return [line for line in log.content_string.splitlines() if line.strip()]


@then("every line has a timestamp and one of the levels INFO, ERROR or SUCCESS")
def log_format(log_lines: list[str], evidence: Evidence) -> None:
    bad = [line for line in log_lines if not LOG_LINE.match(line)]
    evidence.measure("deployment log lines", len(log_lines), "all timestamped with a level")
    assert log_lines, "the deployment log is empty"
    assert not bad, f"{len(bad)} line(s) without timestamp or level, first: {bad[0][:80]!r}"


@then("the log records at least one successful deployment")
def log_success(log_lines: list[str]) -> None:
    assert any("[SUCCESS]" in line for line in log_lines), "the deployment log records no SUCCESS"


@when("the firewall's state and rules are read", target_fixture="ufw")
def read_firewall(target: Target) -> str:
    result = target.host.run("ufw status verbose")
    if result.rc != 0:
        raise ProbeError(f"ufw status failed (is ufw installed, and does the suite run as root?): {result.stderr.strip()[:120]}")
    return result.stdout


@then("the firewall is active, denies incoming and allows outgoing by default")
def firewall_defaults(ufw: str, evidence: Evidence) -> None:
    evidence.measure("ufw", " ".join(ufw.split())[:200], "active, deny (incoming), allow (outgoing)")
    assert "Status: active" in ufw, "the firewall is not active"
    assert re.search(r"Default: deny \(incoming\), allow \(outgoing\)", ufw), "the firewall's defaults are not deny in / allow out"


@then("only SSH, 80/tcp and 443/tcp are allowed in")
def firewall_rules(ufw: str, profile: Profile, evidence: Evidence) -> None:
    allowed = set(profile.threshold("FW-01", "allowed_inbound"))
    rules = {m.group(1).replace(" (v6)", "") for m in re.finditer(r"^(\S+(?: \(v6\))?)\s+ALLOW IN", ufw, re.M)}
    normal = {"22/tcp" if r in ("22", "OpenSSH", "SSH") else r for r in rules}
    extra = sorted(normal - allowed)
    evidence.measure("inbound rules", sorted(normal), sorted(allowed))
    assert not extra, f"the firewall allows more than SSH, 80 and 443: {', '.join(extra)}"


@when("fail2ban is asked for its jails", target_fixture="jails")
def read_jails(target: Target) -> str:
    result = target.host.run("fail2ban-client status")
    if result.rc != 0:
        raise AssertionError(f"fail2ban is not running: {(result.stderr or result.stdout).strip()[:120]}")
    return result.stdout


@then("fail2ban runs an SSH jail")
def ssh_jail(jails: str, evidence: Evidence) -> None:
    evidence.measure("fail2ban jails", jails.strip().splitlines()[-1], "sshd")
    assert "sshd" in jails, "fail2ban runs no sshd jail"


@when("the Docker daemon is asked for its version", target_fixture="docker_version")
def docker_version() -> str:
    return str(container_probe.client().version()["Version"])


@then("the Docker engine version is at least the required one")
def docker_recent(docker_version: str, profile: Profile, evidence: Evidence) -> None:
    at_least(docker_version, profile.threshold("SW-02", "min_version"), "Docker Engine", evidence)


@when("Docker Compose is asked for its version", target_fixture="compose_version")
def compose_version(target: Target) -> str:
    for command in ("docker-compose version --short", "docker compose version --short"):
        result = target.host.run(command)
        if result.rc == 0:
            return result.stdout.strip()
    raise ProbeError("neither docker-compose nor the docker compose plugin answers on the host")


@then("the Docker Compose version is at least the required one")
def compose_recent(compose_version: str, profile: Profile, evidence: Evidence) -> None:
    at_least(compose_version, profile.threshold("SW-03", "min_version"), "Docker Compose", evidence)


@when("the Docker daemon is asked for its settings", target_fixture="daemon")
def daemon_settings(target: Target) -> dict[str, Any]:
    """The daemon's own settings, and the log limits its containers actually got (docker info omits them)."""
    info = container_probe.client().info()
    logs = {c.name: container_probe.log_config(c) for c in container_probe.of_target(target).values()}
    return {"info": dict(info), "container_logs": logs}


@then("its log driver, log limits, storage driver and live restore are as specified")
def daemon_as_specified(daemon: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    t = profile.requirements["DKR-01"].thresholds
    info = daemon["info"]
    have = {"log_driver": info.get("LoggingDriver"), "storage_driver": info.get("Driver"),
            "live_restore": info.get("LiveRestoreEnabled")}
    want = {k: t[k] for k in have}
    evidence.measure("daemon", have, want)
    assert have == want, f"the Docker daemon differs: {have} (expected {want})"
    limits = {"driver": t["log_driver"], "max-size": t["max_size"], "max-file": str(t["max_file"])}
    evidence.measure("container log settings", daemon["container_logs"], limits)
    wrong = [f"{name} {config}" for name, config in daemon["container_logs"].items()
             if any(config.get(k) != v for k, v in limits.items())]
    assert not wrong, f"containers log without the specified limits: {'; '.join(wrong)}"


@when("the Docker services and groups are read", target_fixture="docker_services")
def docker_services(target: Target) -> dict[str, Any]:
    return {"dockerd": bool(target.host.run("pgrep -x dockerd").rc == 0),
            "containerd": bool(target.host.run("pgrep -x containerd").rc == 0),
            "docker group": target.host.run("getent group docker").stdout.strip()}


@then("docker and containerd are running and the deploy user is in the docker group")
def docker_running(docker_services: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("docker services", docker_services, "running, deploy user in docker group")
    assert docker_services["dockerd"] and docker_services["containerd"], "docker or containerd is not running"
    assert docker_services["docker group"], "there is no docker group"

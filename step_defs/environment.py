"""The prepared host: validation, packages, deployment log, firewall, fail2ban, Docker (phase 3)."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import containers as container_probe
from edupro_verify.probes import host as probe
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import data_volume, every_host, on_every_host

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
    accepted = profile.threshold("SW-01", "accepted_os")

    def check(label: str, found: dict[str, Any]) -> None:
        # every fact is compared before the verdict, so one line names all that fall short
        failing = []
        for what, value, requirement, key in (("memory", found["memory"], "HW-02", "min_memory"),
                                              ("disk", found["disk"], "HW-03", "min_storage"),
                                              ("cores", found["cores"], "HW-01", "min_cores")):
            try:
                evidence.expect(what, value, key, requirement=requirement, source=label)
            except AssertionError as error:
                failing.append(str(error).split(": ", 1)[-1])
        try:
            evidence.expect_true("operating system", found["os"].get("PRETTY_NAME"),
                                 probe.os_accepted(found["os"], accepted),
                                 ", ".join(f"{k} {v} or newer" for k, v in accepted.items()), source=label)
        except AssertionError as error:
            failing.append(str(error).split(": ", 1)[-1])
        assert not failing, f"{label + ': ' if label else ''}host validation fails: {'; '.join(failing)}"
    every_host(facts, check)


@when("the host's package database is read", target_fixture="missing")
def read_packages(target: Target, profile: Profile) -> dict[str, list[str]]:
    wanted = profile.limit("ENV-02", "packages").limit
    return on_every_host(target, lambda host: probe.missing_packages(host, wanted))


@then("every base package is installed")
def packages_installed(missing: dict[str, list[str]], profile: Profile, evidence: Evidence) -> None:
    wanted = profile.limit("ENV-02", "packages").limit

    def check(label: str, found: list[str]) -> None:
        evidence.expect("installed base packages", sorted(set(wanted) - set(found)), "packages", source=label)
    every_host(missing, check)


@when("the deployment log is read", target_fixture="log_lines")
def read_log(target: Target) -> list[str]:
    log = target.host_of("deployment_log").file(str(target.path("deployment_log")))
    if not log.exists:
        raise AssertionError(f"there is no deployment log at {log.path}")
    return [line for line in log.content_string.splitlines() if line.strip()]


@then("every line has a timestamp and one of the levels INFO, ERROR or SUCCESS")
def log_format(log_lines: list[str], evidence: Evidence) -> None:
    bad = [line for line in log_lines if not LOG_LINE.match(line)]
    evidence.record("deployment log lines", len(log_lines))
    evidence.expect_true("deployment log", "empty" if not log_lines else "has lines", bool(log_lines), "not empty",
                         message="the deployment log is empty")
    evidence.expect_none("lines without timestamp or level", bad[:5],
                         message=f"{len(bad)} line(s) without timestamp or level, first: {bad[0][:80] if bad else ''!r}")


@then("the log records at least one successful deployment")
def log_success(log_lines: list[str], evidence: Evidence) -> None:
    successes = sum("[SUCCESS]" in line for line in log_lines)
    evidence.expect_true("successful deployments logged", successes, successes > 0, "at least one",
                         message="the deployment log records no SUCCESS")


def _ufw(host: Any) -> probe.Firewall:
    result = host.run("ufw status verbose")
    if result.rc != 0:
        raise ProbeError(f"ufw status failed (is ufw installed, and does the suite run as root?): {result.stderr.strip()[:120]}")
    return probe.ufw_state(result.stdout)


@when("the firewall's state and rules are read", target_fixture="ufw")
def read_firewall(target: Target) -> dict[str, probe.Firewall]:
    """Every server's firewall (label -> state); one host's when the tiers share it."""
    return on_every_host(target, _ufw)


@then("the firewall is active, denies incoming and allows outgoing by default")
def firewall_defaults(ufw: dict[str, probe.Firewall], evidence: Evidence) -> None:
    def check(label: str, state: probe.Firewall) -> None:
        evidence.expect_true("ufw status", state.status, state.status == "active", "active", source=label,
                             message="the firewall is not active")
        evidence.expect_true("ufw defaults", state.defaults, state.defaults == "deny (incoming), allow (outgoing)",
                             "deny (incoming), allow (outgoing)", source=label,
                             message="the firewall's defaults are not deny in / allow out")
    every_host(ufw, check)


@then("only SSH, 80/tcp and 443/tcp are allowed in")
def firewall_rules(ufw: dict[str, probe.Firewall], target: Target, profile: Profile, evidence: Evidence) -> None:
    """The web tier (or the one server): only SSH and the web ports. A server behind it (the application or data
    tier): SSH, and any other port only for the servers of the tier in front of it (FW-01 `admitted_from`)."""
    in_front = profile.threshold("FW-01", "admitted_from") if target.tier_hosts else {}
    monitored = profile.threshold("FW-01", "monitored_from") if target.tier_hosts else {}

    def check(label: str, state: probe.Firewall) -> None:
        tier = label.split(" ", 1)[0]
        if tier not in in_front:
            evidence.expect("inbound rules", state.allowed_in, "allowed_inbound", source=label)
            return
        evidence.record("inbound rules and whom they admit", state.sources, source=label)

        def admitted(rule: str) -> set[str]:
            return {*target.tier_addresses(in_front[tier]),
                    *(target.tier_addresses(monitored[rule]) if rule in monitored else [])}
        wider = [f"{rule} from {', '.join(s for s in sources if s not in admitted(rule))}"
                 for rule, sources in state.sources.items() if rule != "22/tcp" and set(sources) - admitted(rule)]
        evidence.expect_none(f"rules admitting more than the {in_front[tier]} tier", wider, source=label,
                             message=f"the firewall admits more than the {in_front[tier]} tier: {'; '.join(wider)}")
    every_host(ufw, check)


@when("fail2ban is asked for its jails", target_fixture="jails")
def read_jails(target: Target) -> dict[str, str]:
    def jails_on(host: Any) -> str:
        result = host.run("fail2ban-client status")
        return result.stdout if result.rc == 0 else f"not running: {(result.stderr or result.stdout).strip()[:120]}"
    return on_every_host(target, jails_on)


@then("fail2ban runs an SSH jail")
def ssh_jail(jails: dict[str, str], evidence: Evidence) -> None:
    def check(label: str, found: str) -> None:
        if found.startswith("not running"):
            raise AssertionError(f"{label + ': ' if label else ''}fail2ban is {found}")
        listed = found.strip().splitlines()[-1].split(":", 1)[-1]
        names = [j.strip() for j in listed.split(",") if j.strip()]
        evidence.expect_true("fail2ban jails", names, "sshd" in found, "an sshd jail", source=label,
                             message="fail2ban runs no sshd jail")
    every_host(jails, check)


@when("the Docker daemon is asked for its version", target_fixture="docker_version")
def docker_version(target: Target) -> str:
    return str(container_probe.client(target).version()["Version"])


@then("the Docker engine version is at least the required one")
def docker_recent(docker_version: str, evidence: Evidence) -> None:
    evidence.expect("Docker Engine version", docker_version, "min_version")


@when("Docker Compose is asked for its version", target_fixture="compose_version")
def compose_version(target: Target) -> str:
    for command in ("docker-compose version --short", "docker compose version --short"):
        result = target.host.run(command)
        if result.rc == 0:
            return result.stdout.strip()
    raise ProbeError("neither docker-compose nor the docker compose plugin answers on the host")


@then("the Docker Compose version is at least the required one")
def compose_recent(compose_version: str, evidence: Evidence) -> None:
    evidence.expect("Docker Compose version", compose_version, "min_version")


@when("the Docker daemon is asked for its settings", target_fixture="daemon")
def daemon_settings(target: Target) -> dict[str, Any]:
    """The daemon's own settings, and the log limits its containers actually got (docker info omits them)."""
    info = container_probe.client(target).info()
    logs = {c.name: container_probe.log_config(c) for c in container_probe.of_target(target).values()}
    return {"info": dict(info), "container_logs": logs, "file": container_probe.daemon_file(target.host)}


@then("its log driver, log limits, storage driver and live restore are as specified")
def daemon_as_specified(daemon: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    t = profile.requirements["DKR-01"].thresholds
    info = daemon["info"]
    have = {"log_driver": info.get("LoggingDriver"), "storage_driver": info.get("Driver"),
            "live_restore": info.get("LiveRestoreEnabled")}
    for key, value in have.items():
        evidence.expect(f"daemon {key.replace('_', ' ')}", value, key, source="docker info")
    limits = {"driver": t["log_driver"], "max-size": t["max_size"], "max-file": str(t["max_file"])}
    evidence.record("container log settings", daemon["container_logs"])
    wrong = [f"{name} " + ", ".join(f"{k}={config.get(k)}" for k in limits) for name, config in daemon["container_logs"].items()
             if any(config.get(k) != v for k, v in limits.items())]
    evidence.expect_none("containers without the specified log limits", wrong,
                         message=f"containers log without the specified limits: {'; '.join(wrong)}")
    # What the daemon starts with, so the containers it makes next get the limits too (docker info omits them)
    file = daemon["file"]
    evidence.record(container_probe.DAEMON_FILE, file.text or "absent")
    given = file.settings.get("log-opts") or {}
    configured = {"driver": file.settings.get("log-driver"), "max-size": given.get("max-size"),
                  "max-file": given.get("max-file")}
    differs = [f"{k}={configured[k]}" for k, v in limits.items() if configured[k] != v]
    evidence.expect_none(f"log settings of {container_probe.DAEMON_FILE} not as specified", differs,
                         message=f"{container_probe.DAEMON_FILE} {file.problem or 'sets ' + ', '.join(differs)}: "
                                 "containers made from now on log without the specified limits")


@when("the Docker services and groups are read", target_fixture="docker_services")
def docker_services(target: Target) -> dict[str, Any]:
    """The daemons, and the groups of the user the deployment logs in as (the profile's SSH user; root on this
    machine, who may use Docker anyway)."""
    user = target.ssh_user or "root"
    return {"dockerd": bool(target.host.run("pgrep -x dockerd").rc == 0),
            "containerd": bool(target.host.run("pgrep -x containerd").rc == 0),
            "docker group": target.host.run("getent group docker").stdout.strip(),
            "deploy user": user, "its groups": target.host.run("id -nG %s", user).stdout.split()}


@then("docker and containerd are running and the deploy user is in the docker group")
def docker_running(docker_services: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("docker services", docker_services)
    down = [name for name in ("dockerd", "containerd") if not docker_services[name]]
    evidence.expect_none("Docker services not running", down, message="docker or containerd is not running")
    group = docker_services["docker group"]
    evidence.expect_true("docker group", group or "missing", bool(group), "present", message="there is no docker group")
    user, groups = docker_services["deploy user"], docker_services["its groups"]
    evidence.expect_true(f"groups of {user}", " ".join(groups) or "none", user == "root" or "docker" in groups,
                         "docker among them", message=f"{user} may not use Docker: not in the docker group")

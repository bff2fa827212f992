"""Architecture and configuration as deployed (ARCH-*, CFG-*)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pytest_bdd import then, when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import containers as container_probe
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import network
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import quantity

KNOWN_DEFAULTS = {"changeme", "secret", "password", "your-secret-key", "edupro", "admin", "postgres", "redis"}
# CFG-03's names -> where the merged stack configuration keeps them
MERGED_KEYS = {"debug": ("api", "debug"), "log_level": ("logging", "level"), "database_sslmode": ("database", "ssl_mode"),
               "jwt_expire_minutes": ("security", "jwt_expiry_minutes"), "db_pool_size": ("database", "pool_size"),
               "db_max_overflow": ("database", "max_overflow"), "workers": ("api", "workers")}


def architecture(profile: Profile) -> dict[str, Any]:
    return dict(yaml.safe_load((profile.specs / "architecture.yaml").read_text())["services"])


def service_states(target: Target) -> dict[str, Any]:
    states = target.status.get("services")
    if not states:
        raise ProbeError("the target reports no service states (profile without deploy.sh discovery)")
    return dict(states)


@when("the running services are compared with the architecture specification", target_fixture="presence")
@when("the state of every service is read", target_fixture="presence")
def presence(target: Target, profile: Profile) -> dict[str, Any]:
    states = service_states(target)
    found: dict[str, Any] = {}
    for name, spec in architecture(profile).items():
        running = [s for s in spec["status"] if states.get(s, {}).get("state") == "running"]
        answering = []
        for entry in running:
            for address in states[entry]["address"].split(","):
                host, port = address.rsplit(":", 1)
                host = "127.0.0.1" if host == "0.0.0.0" else host
                answering.append(network.from_host(target.host, host, int(port)))
        found[name] = {"running": running, "answers": bool(answering) and all(answering)}
    return found


@then("every service is present and answers on its declared port")
@then("every service of the architecture is running")
def all_present(presence: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("services", presence, "every service running and answering")
    missing = [n for n, s in presence.items() if not s["running"] or not s["answers"]]
    assert not missing, f"not running or not answering: {', '.join(missing)}"


def start_ticks(target: Target, pattern: str) -> int:
    """When the oldest process whose command line contains PATTERN started (clock ticks since boot)."""
    table = host_probe.run(target.host, "ps -eww -o pid=,args=").splitlines()
    pids = [line.split(None, 1)[0] for line in table if pattern in line]
    ticks = []
    for pid in pids:
        stat = target.host.run(f"cat /proc/{pid}/stat")
        if stat.rc == 0:
            ticks.append(int(stat.stdout.rsplit(")", 1)[1].split()[19]))
    if not ticks:
        raise AssertionError(f"no running process matches '{pattern}'")
    return min(ticks)


@when("the start times of the running services are read", target_fixture="started")
def start_times(target: Target) -> dict[str, Any]:
    if target.containers:  # containers: when Docker started each one
        found = container_probe.of_target(target)
        live = f"backend_{target.status.get('live_colour')}"
        return {name: container_probe.started_at(found[service]).isoformat()
                for name, service in (("database", "database"), ("cache", "cache"), ("backend", live))}
    live = [s for s in service_states(target).values() if s.get("live")]
    port = live[0]["address"].split(",")[0].rsplit(":", 1)[1] if live else "0"
    return {"database": start_ticks(target, "bin/postgres "), "cache": start_ticks(target, "redis-server"),
            "backend": start_ticks(target, f"edupro_api.main:app --host 127.0.0.1 --port {port}")}


@then("the backend started after the database and the cache")
def dependency_order(started: dict[str, Any], evidence: Evidence) -> None:
    unit = "clock ticks since boot" if isinstance(started["backend"], int) else "UTC"
    evidence.measure(f"start ({unit})", started, "backend after database and cache")
    early = [d for d in ("database", "cache") if started["backend"] <= started[d]]
    assert not early, f"the backend started before its dependencies: {', '.join(early)}"


@when("every service's health check is run", target_fixture="health")
def run_health_checks(target: Target, api: Api) -> dict[str, Any]:
    if target.containers:
        return container_health_checks(target, api)
    db = target.database
    conf = service_states(target)["proxy"].get("config")
    return {
        "backend": api.get("/health").status_code == 200,
        "database": target.host.run(f"pg_isready -q -h {db['host']} -p {db['port']}").rc == 0
        or target.host.run(f"/usr/lib/postgresql/15/bin/pg_isready -q -h {db['host']} -p {db['port']}").rc == 0,
        "cache": _ping(target),
        "proxy": target.host.run(f"nginx -t -q -c {conf}" if conf else "nginx -t -q").rc == 0,
        "frontend": api.get("/").status_code == 200,
        "declared": service_states(target).get("backend_blue", {}).get("healthcheck", {}),
    }


def container_health_checks(target: Target, api: Api) -> dict[str, Any]:
    """Docker's verdict of each container's own health check (all but the idle backend colour, which may be
    stopped between releases), the API's beside it, and the backend's declared check as Docker holds it."""
    live_colour = target.status.get("live_colour")
    found = {name: c for name, c in container_probe.of_target(target).items()
             if not name.startswith("backend_") or name == f"backend_{live_colour}"}
    checks: dict[str, Any] = {name: container_probe.health(c) == "healthy" for name, c in found.items()}
    checks["backend through the proxy"] = api.get("/health").status_code == 200
    live = found.get(f"backend_{live_colour}")
    checks["declared"] = container_probe.declared_healthcheck(live) if live else {}
    return checks


def _ping(target: Target) -> bool:
    try:
        return bool(target.redis().ping())
    except Exception:  # any failure to answer PING is a failed health check
        return False


@then("every service passes its health check")
def every_service_healthy(target: Target, api: Api, evidence: Evidence) -> None:
    health_passes(run_health_checks(target, api), evidence)


@then("every health check passes")
def health_passes(health: dict[str, Any], evidence: Evidence) -> None:
    checks = {k: v for k, v in health.items() if k != "declared"}
    evidence.measure("health checks", checks, "all pass")
    failing = [k for k, ok in checks.items() if not ok]
    assert not failing, f"health check failing: {', '.join(failing)}"


@then("the backend health check is declared with the paper's interval, timeout and retries")
def health_declared(health: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    declared = health["declared"]
    want = {"interval_seconds": quantity(profile, "ARCH-03", "backend_interval"),
            "timeout_seconds": quantity(profile, "ARCH-03", "backend_timeout"),
            "retries": profile.threshold("ARCH-03", "backend_retries")}
    evidence.measure("declared backend health check", declared, want)
    wrong = [k for k, v in want.items() if declared.get(k) != v]
    assert not wrong, f"the backend health check declares {', '.join(f'{k}={declared.get(k)}' for k in wrong)}"


@when("requests are sent through the proxy", target_fixture="colours")
def colours_seen(api: Api) -> list[str]:
    return [str(api.get("/version").json().get("colour")) for _ in range(10)]


@then("every answer comes from the live colour")
def only_live(colours: list[str], target: Target, evidence: Evidence) -> None:
    live = target.status.get("live_colour")
    evidence.measure("colours answering", sorted(set(colours)), f"only {live}")
    assert set(colours) == {live}, f"answers came from {sorted(set(colours))}, the live colour is {live}"


@then("the deployment declares a second colour to release onto")
def second_colour(target: Target, evidence: Evidence) -> None:
    colours = [n for n in service_states(target) if n.startswith("backend_")]
    evidence.measure("backend colours", colours, "blue and green")
    assert {"backend_blue", "backend_green"} <= set(colours), f"backend colours declared: {colours}"


@when("the deployment's configuration for this environment is merged", target_fixture="merged")
def merge_config(target: Target, profile: Profile) -> dict[str, Any]:
    result = target.deploy("config", "--env", profile.name)
    assert result.returncode == 0, f"the configuration for {profile.name} is refused: {result.stderr.strip()}"
    return dict(json.loads(result.stdout))


@then("the merged configuration is valid and the environment's values override the base")
def overrides_win(merged: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want = profile.threshold("CFG-03", profile.name)
    have = {k: merged[MERGED_KEYS[k][0]][MERGED_KEYS[k][1]] for k in want}
    evidence.measure("merged overrides", have, want)
    wrong = {k: have[k] for k in want if have[k] != want[k]}
    assert not wrong, f"the merged configuration does not apply the {profile.name} overrides: {wrong}"


@then("a configuration with a wrong type is refused with a message naming the key")
def broken_refused(target: Target, profile: Profile, evidence: Evidence) -> None:
    source = target.path("repository") / "stack" / "config"
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copytree(source, Path(folder) / "config"))
        base = yaml.safe_load((copy / "base.yaml").read_text())
        base["security"]["password_hash_rounds"] = "twelve"  # no environment overrides this key
        (copy / "base.yaml").write_text(yaml.safe_dump(base))
        result = target.deploy("config", "--env", profile.name, "--config-dir", str(copy))
    evidence.measure("broken configuration", f"exit {result.returncode}: {result.stderr.strip()}",
                     "refused, naming security.password_hash_rounds")
    assert result.returncode != 0, "a configuration with password_hash_rounds 'twelve' was accepted"
    assert "security.password_hash_rounds" in result.stderr, f"the refusal does not name the key: {result.stderr.strip()}"


def expected_base(profile: Profile) -> dict[str, Any]:
    overridden = set(profile.threshold("CFG-03", profile.name))
    return {k: v for k, v in profile.requirements["CFG-02"].thresholds.items() if k not in overridden}


@when("an administrator reads the running backend's effective settings", target_fixture="settings")
def read_settings(effective_settings: dict[str, Any]) -> dict[str, Any]:
    return effective_settings


@then("every base value not overridden by the environment is in effect")
def base_in_effect(settings: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    compare(settings, expected_base(profile), evidence)


@then("every override of this environment is in effect")
def overrides_in_effect(settings: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    compare(settings, profile.threshold("CFG-03", profile.name), evidence)


def compare(settings: dict[str, Any], want: dict[str, Any], evidence: Evidence) -> None:
    have = {k: settings.get(k) for k in want}
    evidence.measure("effective settings", have, want)
    wrong = [f"{k}={have[k]!r} (expected {v!r})" for k, v in want.items() if have[k] != v]
    assert not wrong, "settings not in effect: " + ", ".join(wrong)


@when("the deployment's secrets are examined", target_fixture="secret_values")
def secret_values(target: Target) -> dict[str, str]:
    values = {"database": target.secrets.database_password, "cache": target.secrets.redis_password,
              "jwt": target.secrets.jwt_secret}
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise ProbeError(f"the secrets give no value for: {', '.join(missing)}")
    return {k: str(v) for k, v in values.items()}


@then("every secret is long enough and not a known default")
def strong_secrets(secret_values: dict[str, str], profile: Profile, evidence: Evidence) -> None:
    minimum = profile.threshold("CFG-04", "min_secret_length")
    lengths = {k: len(v) for k, v in secret_values.items()}
    evidence.measure("secret lengths", lengths, f">= {minimum}")
    weak = [k for k, v in secret_values.items() if len(v) < minimum or v.lower() in KNOWN_DEFAULTS]
    assert not weak, f"weak or default secret(s): {', '.join(weak)}"


@then("no secret is shared with another environment")
def distinct_secrets(secret_values: dict[str, str], target: Target, evidence: Evidence) -> None:
    mine = target.path("secrets")
    others = [p for p in mine.parent.glob("secrets-*.json") if p != mine]
    shared = [f"{p.name}:{k}" for p in others for k, v in json.loads(p.read_text()).items()
              if v in secret_values.values()]
    evidence.measure("other environments' secret files compared", [p.name for p in others], "no value shared")
    assert not shared, f"secrets shared with another environment: {', '.join(shared)}"


@then("no secret appears in the repository or in the effective settings")
def secrets_not_leaked(secret_values: dict[str, str], target: Target, effective_settings: dict[str, Any],
                       evidence: Evidence) -> None:
    repo = target.path("repository")
    in_repo = [k for k, v in secret_values.items()
               if subprocess.run(["git", "-C", str(repo), "grep", "-q", "-F", v], capture_output=True).returncode == 0]
    text = json.dumps(effective_settings)
    in_settings = [k for k, v in secret_values.items() if v in text]
    in_settings += [k for k in ("jwt_secret", "data_encryption_key", "database_url", "redis_url") if k in effective_settings]
    evidence.measure("secrets found in the repository", in_repo, "none")
    evidence.measure("secrets exposed in settings", in_settings, "none")
    assert not in_repo, f"secret(s) committed to the repository: {', '.join(in_repo)}"
    assert not in_settings, f"secret(s) exposed by the effective settings: {', '.join(in_settings)}"

"""Architecture and configuration as deployed (ARCH-*, CFG-*)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import cache, configuration, database, services
from edupro_verify.probes import tokens as token_probe
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import Tokens

# CFG-03's names -> where the merged stack configuration keeps them
MERGED_KEYS = {"debug": ("api", "debug"), "log_level": ("logging", "level"), "database_sslmode": ("database", "ssl_mode"),
               "jwt_expire_minutes": ("security", "jwt_expiry_minutes"), "db_pool_size": ("database", "pool_size"),
               "db_max_overflow": ("database", "max_overflow"), "workers": ("api", "workers")}


@when("the running services are compared with the architecture specification", target_fixture="presence")
@when("the state of every service is read", target_fixture="presence")
def presence(target: Target, profile: Profile) -> dict[str, Any]:
    return services.presence(target, services.architecture(profile.specs))


@then("every service is present and answers on its declared port")
@then("every service of the architecture is running")
def all_present(presence: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("services", presence)
    missing = [n for n, s in presence.items() if not s["running"] or not s["answers"]]
    evidence.expect_none("services not running or not answering", missing,
                         message=f"not running or not answering: {', '.join(missing)}")


@when("the start times of the running services are read", target_fixture="started")
def start_times(target: Target) -> dict[str, Any]:
    return services.start_times(target)


@then("the backend started after the database and the cache")
def dependency_order(started: dict[str, Any], evidence: Evidence) -> None:
    unit = "UTC" if isinstance(started["backend"], str) else "clock ticks since boot"
    evidence.record(f"start ({unit})", started)
    stopped = [name for name, at in started.items() if at is None]
    evidence.expect_none("services with no running process", stopped,
                         message=f"no running process for: {', '.join(stopped)}")
    early = [d for d in ("database", "cache") if started["backend"] <= started[d]]
    evidence.expect_none("dependencies started after the backend", early,
                         message=f"the backend started before its dependencies: {', '.join(early)}")


@when("every service's health check is run", target_fixture="health")
def run_health_checks(target: Target, api: Api) -> dict[str, Any]:
    return services.health_checks(target, api)


@then("every service passes its health check")
def every_service_healthy(target: Target, api: Api, evidence: Evidence) -> None:
    health_passes(services.health_checks(target, api), evidence)


@then("every health check passes")
def health_passes(health: dict[str, Any], evidence: Evidence) -> None:
    checks = {k: v for k, v in health.items() if k != "declared"}
    evidence.record("health checks", checks)
    failing = [k if isinstance(v, bool) else f"{k} ({v})" for k, v in checks.items() if v not in (True, "healthy")]
    evidence.expect_none("health checks failing", failing, message=f"health check failing: {', '.join(failing)}")


@then("the backend health check is declared with the paper's interval, timeout and retries")
def health_declared(health: dict[str, Any], evidence: Evidence) -> None:
    declared = health["declared"]
    evidence.expect("declared interval", declared.get("interval_seconds", 0), "backend_interval")
    evidence.expect("declared timeout", declared.get("timeout_seconds", 0), "backend_timeout")
    evidence.expect("declared retries", declared.get("retries"), "backend_retries")


@when("requests are sent through the proxy", target_fixture="colours")
def colours_seen(api: Api) -> list[str]:
    return [str(api.get("/version").json().get("colour")) for _ in range(10)]


@then("every answer comes from the live colour")
def only_live(colours: list[str], target: Target, evidence: Evidence) -> None:
    live = target.inventory.live_colour
    evidence.expect_true("colours answering", sorted(set(colours)), set(colours) == {live}, f"only {live}",
                         message=f"answers came from {sorted(set(colours))}, the live colour is {live}")


@then("a second colour is there to release onto")
def second_colour(target: Target, evidence: Evidence) -> None:
    colours = sorted(target.inventory.backends)
    ok = {"backend_blue", "backend_green"} <= set(colours)
    evidence.expect_true("backend colours", colours, ok, "blue and green", message=f"backend colours declared: {colours}")
    room = services.idle_colour_room(target)
    held = sorted(address for address, state in room.items() if state == "held by another program")
    evidence.record("the idle colour's addresses, seen on the host", room)
    evidence.expect_none("idle colour's addresses held by another program", held,
                         message=f"another program holds {', '.join(held)}: a release cannot start the idle colour there")


@when("the deployment's configuration for this environment is merged", target_fixture="merged")
def merge_config(target: Target, profile: Profile) -> dict[str, Any]:
    return configuration.merged(target, profile.name)


@then("the merged configuration is valid and the environment's values override the base")
def overrides_win(merged: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want = profile.threshold("CFG-03", profile.name)
    have = {k: merged[MERGED_KEYS[k][0]][MERGED_KEYS[k][1]] for k in want}
    evidence.record("merged overrides", have)
    wrong = [f"{k}={have[k]!r} (expected {want[k]!r})" for k in want if have[k] != want[k]]
    evidence.expect_none("overrides not applied", wrong,
                         message=f"the merged configuration does not apply the {profile.name} overrides: {', '.join(wrong)}")


@then("a configuration with a wrong type is refused with a message naming the key")
def broken_refused(target: Target, profile: Profile, evidence: Evidence) -> None:
    # a key no environment overrides, so the refusal is seen for every profile
    code, message = configuration.with_wrong_type(target, profile.name, "security", "password_hash_rounds", "twelve")
    evidence.record("deploy.sh config with password_hash_rounds 'twelve'", f"exit {code}: {message}")
    evidence.expect_true("refused", code != 0, code != 0, "a non-zero exit",
                         message="a configuration with password_hash_rounds 'twelve' was accepted")
    named = "security.password_hash_rounds" in message
    evidence.expect_true("the refusal names the key", named, named, "security.password_hash_rounds",
                         message=f"the refusal does not name the key: {message}")


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
    evidence.record("effective settings", have, source="/api/v1/admin/settings")
    wrong = [f"{k}={have[k]!r} (expected {v!r})" for k, v in want.items() if have[k] != v]
    evidence.expect_none("settings not in effect", wrong, message="settings not in effect: " + ", ".join(wrong))


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
    known = {str(v).lower() for v in profile.threshold("CFG-04", "known_defaults")}
    defaults = [k for k, v in secret_values.items() if v.lower() in known]
    evidence.expect_none("secrets that are known defaults", defaults,
                         message=f"weak or default secret(s): {', '.join(defaults)}")
    for name, value in secret_values.items():
        evidence.expect(f"{name} secret length", len(value), "min_secret_length")


@then("the backend accepts a token signed with the declared key and refuses the known defaults and a random key")
def token_key_in_use(secret_values: dict[str, str], api: Api, tokens: Tokens, profile: Profile,
                     evidence: Evidence) -> None:
    subject = str(token_probe.unverified(tokens["student"])[1]["sub"])
    declared = api.get("/api/v1/users/me", token_probe.signed(subject, "student", secret_values["jwt"])).status_code
    evidence.expect_true("a token signed with the declared key", declared, declared == 200, "accepted (200)",
                         message=f"the backend refuses a token signed with the declared key ({declared}): "
                                 "it runs with another key")
    others = {str(k): str(k) for k in profile.threshold("CFG-04", "known_defaults")}
    others["a random key"] = secrets.token_urlsafe(32)
    answers = {name: api.get("/api/v1/users/me", token_probe.signed(subject, "student", key)).status_code
               for name, key in others.items()}
    evidence.record("answers to tokens signed with other keys", answers)
    limited = [name for name, code in answers.items() if code == 429]
    if limited:  # the rate limiter answered before the key was judged: this check could not look
        raise ProbeError(f"the rate limiter answered 429 before the token was judged, for: {', '.join(limited)}")
    accepted = [name for name, code in answers.items() if code != 401]
    evidence.expect_none("tokens accepted with another key", accepted,
                         message=f"the backend accepts tokens signed with: {', '.join(accepted)}")


@then("the database and the cache accept the declared passwords and refuse the known defaults and none")
def passwords_in_use(secret_values: dict[str, str], target: Target, profile: Profile, evidence: Evidence) -> None:
    users = sorted({str(target.database["user"]), str(target.database.get("app_role", target.database["user"]))})
    declared_db = database.password_accepted(target, str(target.database["user"]), secret_values["database"])
    evidence.expect_true("database, declared password", declared_db, declared_db, "accepted",
                         message="the database refuses the declared password")
    declared_cache = cache.password_accepted(target, secret_values["cache"])
    evidence.expect_true("cache, declared password", declared_cache, declared_cache, "accepted",
                         message="the cache refuses the declared password")
    tried = [*(str(k) for k in profile.threshold("CFG-04", "known_defaults")), ""]
    let_in = [f"database {user} with {word or 'no password'}" for user in users for word in tried
              if database.password_accepted(target, user, word)]
    let_in += [f"cache with {word or 'no password'}" for word in tried if cache.password_accepted(target, word or None)]
    evidence.record("passwords tried", len(tried) * (len(users) + 1))
    evidence.expect_none("default or empty passwords accepted", let_in,
                         message=f"accepted: {', '.join(let_in)}")


@then("no secret is shared with another environment")
def distinct_secrets(secret_values: dict[str, str], target: Target, evidence: Evidence) -> None:
    others, shared = configuration.shared_with_other_environments(target.host_of("secrets"), target.path("secrets"), secret_values)
    evidence.record("other environments' secret files compared", others)
    evidence.expect_none("secrets shared with another environment", shared,
                         message=f"secrets shared with another environment: {', '.join(shared)}")


@then("no secret appears in the repository or in the effective settings")
def secrets_not_leaked(secret_values: dict[str, str], target: Target, effective_settings: dict[str, Any],
                       evidence: Evidence) -> None:
    in_repo = configuration.committed(target.path("repository"), secret_values)
    text = json.dumps(effective_settings)
    in_settings = [k for k, v in secret_values.items() if v in text]
    in_settings += [k for k in ("jwt_secret", "data_encryption_key", "database_url", "redis_url") if k in effective_settings]
    evidence.expect_none("secrets found in the repository", in_repo, source="git grep",
                         message=f"secret(s) committed to the repository: {', '.join(in_repo)}")
    evidence.expect_none("secrets exposed in the effective settings", in_settings, source="/api/v1/admin/settings",
                         message=f"secret(s) exposed by the effective settings: {', '.join(in_settings)}")

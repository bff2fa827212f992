"""The deployed application: proxy, health, exposure, cache, containers, model (phase 4)."""

from __future__ import annotations

import ipaddress
from typing import Any

import redis
from pytest_bdd import then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import containers as container_probe
from edupro_verify.probes import host as host_probe
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import Tokens
from .design import service_states
from .network import tiers

LOOPBACK = ("127.", "::1")


def containers(target: Target) -> list[Any]:
    """The target's running containers."""
    return [c for c in container_probe.of_target(target).values() if c.status == "running"]


@when("the containers' restart policies are read", target_fixture="policies")
def restart_policies(target: Target) -> dict[str, str]:
    return {c.name: c.attrs["HostConfig"]["RestartPolicy"]["Name"] for c in container_probe.of_target(target).values()}


@then("every container's restart policy is unless-stopped")
def unless_stopped(policies: dict[str, str], evidence: Evidence) -> None:
    evidence.measure("restart policies", policies, "unless-stopped")
    assert policies, "no container is running"
    wrong = [f"{n}={p or 'no'}" for n, p in policies.items() if p != "unless-stopped"]
    assert not wrong, f"restart policy not unless-stopped: {', '.join(wrong)}"


@when("the proxy's configuration is tested", target_fixture="config_test")
def proxy_config_test(target: Target) -> Any:
    conf = service_states(target)["proxy"].get("config")
    return target.service_host("proxy").run(f"nginx -t -c {conf}" if conf else "nginx -t")


@then("the configuration test passes")
def config_ok(config_test: Any, evidence: Evidence) -> None:
    evidence.measure("nginx -t", (config_test.stderr or config_test.stdout).strip().splitlines()[-1:], "successful")
    assert config_test.rc == 0, f"nginx -t fails: {config_test.stderr.strip()[:160]}"


@then("the proxy serves the frontend at /")
def frontend_served(api: Api, evidence: Evidence) -> None:
    response = api.get("/")
    evidence.measure("GET /", f"{response.status_code} {response.headers.get('Content-Type')}", "200 text/html with the app")
    assert response.status_code == 200 and 'id="root"' in response.text, "the proxy does not serve the frontend at /"


@then("the proxy passes API requests to the backend")
def api_proxied(api: Api, evidence: Evidence) -> None:
    response = api.get("/api/v1/students/me")
    evidence.measure("GET /api/v1/students/me without token", response.status_code, "401 from the API")
    assert response.status_code == 401 and response.headers.get("Content-Type", "").startswith("application/json"), (
        f"the API behind the proxy answers {response.status_code} {response.headers.get('Content-Type')}")


@when("the backend health endpoint is requested through the proxy", target_fixture="health")
def backend_health(api: Api) -> Any:
    return api.get("/health")


@then("it reports healthy with the database and the cache reachable")
def healthy(health: Any, evidence: Evidence) -> None:
    evidence.measure("/health", f"{health.status_code} {health.text[:120]}", "200 healthy, database ok, cache ok")
    body = health.json() if health.headers.get("Content-Type", "").startswith("application/json") else {}
    assert health.status_code == 200 and body.get("status") == "healthy", f"/health answers {health.status_code} {body}"
    assert body.get("database") == "ok" and body.get("cache") == "ok", f"dependencies not ok: {body}"


@then("the frontend is reachable through the proxy")
def frontend_reachable(api: Api) -> None:
    assert api.get("/").status_code == 200, "the frontend is not reachable through the proxy"


@when("the host's listening sockets are read", target_fixture="sockets")
def sockets(target: Target) -> list[tuple[str, int]]:
    return host_probe.listening(target.host)


@then("only the proxy's ports listen on an address other than loopback")
def only_proxy_exposed(sockets: list[tuple[str, int]], target: Target, evidence: Evidence) -> None:
    proxy_ports = {p for _, p in tiers(target)["web"]}
    stack_ports = {p for tier in tiers(target).values() for _, p in tier}
    exposed = sorted({p for a, p in sockets if not a.startswith(LOOPBACK) and p in stack_ports})
    evidence.measure("stack ports listening beyond loopback", exposed, sorted(proxy_ports))
    extra = [p for p in exposed if p not in proxy_ports]
    assert not extra, f"stack ports listening beyond loopback besides the proxy: {extra}"


@when("the cache is asked for PING without a password", target_fixture="anonymous_ping")
def anonymous_ping(target: Target) -> str:
    try:
        target.redis(password=None).ping()
        return "PONG"
    except redis.AuthenticationError as error:
        return f"refused: {error}"
    except redis.ResponseError as error:
        return f"refused: {error}"


@then("the cache refuses it for lack of authentication")
def cache_needs_password(anonymous_ping: str, evidence: Evidence) -> None:
    evidence.measure("PING without password", anonymous_ping, "refused (NOAUTH)")
    assert anonymous_ping.startswith("refused"), "the cache answers commands without a password"


@then("with the password the cache reports append-only persistence on")
def cache_persists(target: Target, evidence: Evidence) -> None:
    client = target.redis()
    appendonly = client.config_get("appendonly").get("appendonly")
    status = client.info("persistence").get("aof_enabled")
    evidence.measure("appendonly", appendonly, "yes")
    assert appendonly == "yes" and status == 1, f"append-only persistence is off (appendonly={appendonly})"


@when("the images of the running containers are read", target_fixture="images")
def images(target: Target) -> dict[str, Any]:
    return {c.name: {"tags": c.image.tags, "labels": c.image.labels or {}} for c in containers(target)}


@then("no image is tagged latest and every image has BUILD_DATE, VCS_REF and VERSION labels")
def images_versioned(images: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("images", images)
    assert images, "no container is running"
    latest = [n for n, i in images.items() if any(t.endswith(":latest") for t in i["tags"])]
    unlabelled = [n for n, i in images.items() if not {"BUILD_DATE", "VCS_REF", "VERSION"} <= set(i["labels"])]
    assert not latest, f"images tagged latest: {', '.join(latest)}"
    assert not unlabelled, f"images without build labels: {', '.join(unlabelled)}"


@then("the backend runs in this environment with the configured log level")
def runtime_facts(settings: dict[str, Any], target: Target, profile: Profile, evidence: Evidence) -> None:
    want_level = profile.threshold("CFG-03", profile.name).get("log_level", profile.threshold("CFG-02", "log_level"))
    evidence.measure("environment / log level", f"{settings.get('environment')} / {settings.get('log_level')}",
                     f"{profile.name} / {want_level}")
    assert settings.get("environment") == profile.name, f"the backend runs as '{settings.get('environment')}', not {profile.name}"
    assert settings.get("log_level") == want_level, f"the backend logs at {settings.get('log_level')}, not {want_level}"


@then("the model files cannot be written")
def model_read_only(target: Target, evidence: Evidence) -> None:
    folder = str(target.path("models"))
    modes = {name: host_probe.file_mode(target.host, f"{folder}/{name}") for name in ("", "model.joblib", "model_card.json")}
    evidence.measure("model modes", modes, "no write bit")
    writable = [n or "the folder" for n, m in modes.items() if int(m, 8) & 0o222]
    assert not writable, f"the model is writable: {', '.join(writable)}"


@then("a prediction is served by the model of the model card")
def prediction_served(api: Api, tokens: Tokens, evidence: Evidence) -> None:
    card = api.get("/api/v1/model", tokens["student"]).json()
    me = api.get("/api/v1/users/me", tokens["student"]).json()
    student = api.get("/api/v1/students/me", tokens["student"]).json()
    response = api.post("/api/v1/predictions", tokens["student"], json={"student_id": student["id"]})
    evidence.measure("prediction", response.text[:120], f"model {card.get('version')}")
    assert me["role"] == "student"
    assert response.status_code == 200, f"prediction answered {response.status_code}"
    assert response.json()["model_version"] == card["version"], "the prediction's model version is not the model card's"


@when("the networks of the running containers are read", target_fixture="networks")
def networks(target: Target) -> dict[str, Any]:
    return {c.name: {n: v.get("IPAddress") for n, v in c.attrs["NetworkSettings"]["Networks"].items()}
            for c in containers(target)}


@then("every service is on the dedicated network with the specified subnet")
def dedicated_network(networks: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    subnet = ipaddress.ip_network(profile.threshold("APP-08", "subnet"))
    evidence.measure("container networks", networks, str(subnet))
    outside = [n for n, nets in networks.items()
               if not any(ip and ipaddress.ip_address(ip) in subnet for ip in nets.values())]
    assert networks and not outside, f"containers outside {subnet}: {', '.join(outside) or 'no containers'}"

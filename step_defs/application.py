"""The deployed application: proxy, health, exposure, cache, containers, model (phase 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pytest_bdd import when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import cache, network, records, scheduler
from edupro_verify.probes import containers as container_probe
from edupro_verify.probes import host as host_probe
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import Tokens, every_host, on_every_host

LOOPBACK = ("127.", "::1")


def containers(target: Target) -> list[Any]:
    """The target's running containers."""
    return [c for c in container_probe.of_target(target).values() if c.status == "running"]


@when("what starts the services again is read", target_fixture="supervision")
def supervision(target: Target) -> dict[str, Any]:
    """Containers: Docker, by each one's restart policy. Processes on a server: the supervision job cron runs."""
    if target.containers:
        return {"policies": {c.name: c.attrs["HostConfig"]["RestartPolicy"]["Name"]
                             for c in container_probe.of_target(target).values()}}
    path = str(target.path("supervision"))
    return {"job": path, "installed": scheduler.schedule(target.host, path),
            "entry": scheduler.entry(target.host, path), "runs": scheduler.job_runs(target.host, path)}


@then("every service is started again when it stops")
def started_again(supervision: dict[str, Any], evidence: Evidence) -> None:
    if "policies" in supervision:
        _unless_stopped(supervision["policies"], evidence)
        return
    installed: scheduler.Installed = supervision["installed"]
    evidence.expect_true("supervision read by", installed.read_by or "nothing", installed.read_by is not None,
                         "the host's cron", message=f"nothing on the host reads the supervision {installed.where}")
    evidence.expect_true("cron", "running" if installed.runner_running else "not running", installed.runner_running,
                         "running", message="cron is not running on the host: nothing starts a stopped service again")
    entry = supervision["entry"] or "none"
    evidence.expect_true("supervision runs", entry, scheduler.EACH_MINUTE.match(entry) is not None, "each minute",
                         source=installed.where, message=f"the supervision does not run each minute: {entry}")
    runs: scheduler.JobRuns = supervision["runs"]
    evidence.expect_true("cron started the supervision", runs.last_started_line or "never",
                         runs.last_started is not None, "lately", source=runs.source or "",
                         message=f"cron's log shows no run of the supervision ({runs.source or 'no log found'})")
    assert runs.last_started is not None  # for the type checker: expect_true raised otherwise
    evidence.expect("time since the supervision last ran", (datetime.now(UTC) - runs.last_started).total_seconds(),
                    "supervision_last_ran", source=runs.source or "")


def _unless_stopped(policies: dict[str, str], evidence: Evidence) -> None:
    evidence.record("restart policies", policies, source="Docker API")
    evidence.expect_true("containers", len(policies), bool(policies), "at least one", message="no container is running")
    wrong = [f"{n}={p or 'no'}" for n, p in policies.items() if p != "unless-stopped"]
    evidence.expect_none("containers without unless-stopped", wrong,
                         message=f"restart policy not unless-stopped: {', '.join(wrong)}")


@when("the proxy's configuration is tested", target_fixture="config_test")
def proxy_config_test(target: Target) -> Any:
    conf = target.inventory.service("proxy").config
    return target.service_host("proxy").run(f"nginx -t -c {conf}" if conf else "nginx -t")


@then("the configuration test passes")
def config_ok(config_test: Any, evidence: Evidence) -> None:
    last = ((config_test.stderr or config_test.stdout).strip().splitlines() or [""])[-1]
    evidence.expect_true("nginx -t", last, config_test.rc == 0, "successful",
                         message=f"nginx -t fails: {config_test.stderr.strip()[:160]}")


@then("the proxy serves the frontend at /")
def frontend_served(api: Api, evidence: Evidence) -> None:
    response = api.get("/")
    ok = response.status_code == 200 and 'id="root"' in response.text
    evidence.expect_true("GET /", {"status": response.status_code, "type": response.headers.get("Content-Type")}, ok,
                         "200, the application's page", message="the proxy does not serve the frontend at /")


@then("the proxy passes API requests to the backend")
def api_proxied(api: Api, evidence: Evidence) -> None:
    response = api.get("/api/v1/students/me")
    kind = response.headers.get("Content-Type", "")
    ok = response.status_code == 401 and kind.startswith("application/json")
    evidence.expect_true("GET /api/v1/students/me without token", {"status": response.status_code, "type": kind}, ok,
                         "401 as JSON from the API",
                         message=f"the API behind the proxy answers {response.status_code} {kind}")


@when("the backend health endpoint is requested through the proxy", target_fixture="health")
def backend_health(api: Api) -> Any:
    return api.get("/health")


@then("it reports healthy with the database and the cache reachable")
def healthy(health: Any, evidence: Evidence) -> None:
    body = health.json() if health.headers.get("Content-Type", "").startswith("application/json") else {}
    shown = {"status code": health.status_code, **body}
    evidence.expect_true("/health", shown, health.status_code == 200 and body.get("status") == "healthy",
                         "200 healthy", message=f"/health answers {health.status_code} {body}")
    evidence.expect_true("dependencies", {k: body.get(k) for k in ("database", "cache")},
                         body.get("database") == "ok" and body.get("cache") == "ok", "database ok, cache ok",
                         message=f"dependencies not ok: {body}")


@then("the frontend is reachable through the proxy")
def frontend_reachable(api: Api, evidence: Evidence) -> None:
    code = api.get("/").status_code
    evidence.expect_true("GET /", code, code == 200, "200", message="the frontend is not reachable through the proxy")


@when("the host's listening sockets are read", target_fixture="sockets")
def sockets(target: Target) -> list[tuple[str, int]]:
    return host_probe.listening(target.host)


@then("only the proxy's ports listen on an address other than loopback")
def only_proxy_exposed(sockets: list[tuple[str, int]], target: Target, evidence: Evidence) -> None:
    tiers = network.tiers(target)
    proxy_ports = {p for _, p in tiers["web"]}
    stack_ports = {p for tier in tiers.values() for _, p in tier}  # published: what Docker publishes beyond the proxy
    exposed = sorted({p for a, p in sockets if not a.startswith(LOOPBACK) and p in stack_ports})
    evidence.record("stack ports listening beyond loopback", exposed, source="host sockets")
    extra = [p for p in exposed if p not in proxy_ports]
    evidence.expect_none("stack ports beyond loopback besides the proxy's", extra,
                         message=f"stack ports listening beyond loopback besides the proxy: {extra}")


@when("every server's listening sockets are read with the programs that hold them", target_fixture="listeners")
def server_listeners(target: Target) -> dict[str, list[host_probe.Listener]]:
    return on_every_host(target, host_probe.listeners)


@then("each socket beyond loopback is one the profile allows on its server's tier")
def listeners_allowed(listeners: dict[str, list[host_probe.Listener]], evidence: Evidence) -> None:
    """Whatever the firewall says: a listener it hides today is open the day a rule changes."""
    def check(label: str, found: list[host_probe.Listener]) -> None:
        key = f"listening_{label.split(' ', 1)[0] or 'all'}"  # the server's tier (one server: all of them)
        beyond = [listener for listener in found if not listener.on_loopback]
        allowed = evidence.threshold(key)[1].limit
        evidence.record("listening beyond loopback", sorted(str(listener) for listener in beyond), source=label)
        evidence.expect("ports listening beyond loopback", sorted({f"{s.port}/tcp" for s in beyond}), key,
                        source=label, detail=", ".join(str(s) for s in beyond if f"{s.port}/tcp" not in allowed))
    every_host(listeners, check)


@when("the cache is asked for PING without a password", target_fixture="anonymous_ping")
def anonymous_ping(target: Target) -> str:
    return cache.anonymous_ping(target)


@then("the cache refuses it for lack of authentication")
def cache_needs_password(anonymous_ping: str, evidence: Evidence) -> None:
    evidence.expect_true("PING without password", anonymous_ping, anonymous_ping.startswith("refused"),
                         "refused (NOAUTH)", message="the cache answers commands without a password")


@then("with the password the cache reports append-only persistence on")
def cache_persists(target: Target, evidence: Evidence) -> None:
    appendonly, enabled = cache.append_only(target)
    evidence.expect_true("appendonly", {"appendonly": appendonly, "aof_enabled": enabled},
                         appendonly == "yes" and enabled == 1, "yes, enabled",
                         message=f"append-only persistence is off (appendonly={appendonly})")


@when("the images of the running containers are read", target_fixture="images")
def images(target: Target) -> dict[str, Any]:
    return {c.name: {"tags": c.image.tags, "labels": c.image.labels or {}} for c in containers(target)}


@then("no image is tagged latest and every image has BUILD_DATE, VCS_REF and VERSION labels")
def images_versioned(images: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("image tags", {n: i["tags"] for n, i in images.items()}, source="Docker API")
    evidence.expect_true("containers", len(images), bool(images), "at least one", message="no container is running")
    latest = [n for n, i in images.items() if any(t.endswith(":latest") for t in i["tags"])]
    unlabelled = [n for n, i in images.items() if not {"BUILD_DATE", "VCS_REF", "VERSION"} <= set(i["labels"])]
    evidence.expect_none("images tagged latest", latest, message=f"images tagged latest: {', '.join(latest)}")
    evidence.expect_none("images without build labels", unlabelled,
                         message=f"images without build labels: {', '.join(unlabelled)}")


@then("every running container runs the image the latest release record names")
def images_recorded(target: Target, evidence: Evidence) -> None:
    record = records.release_record(target)
    recorded: dict[str, str] = record["images"]
    evidence.record("release record", {"action": record.get("action"), "version": record.get("version"),
                                       "finished": record.get("finished"), "images": recorded},
                    source=str(target.path("deployment_history")))
    running = {service: c for service, c in container_probe.of_target(target).items() if c.status == "running"}
    evidence.record("images running", {c.name: c.image.id for c in running.values()}, source="Docker API")
    differ = [f"{c.name} runs {c.image.id.removeprefix('sha256:')[:12]} (the record: "
              f"{recorded.get(service, 'none').removeprefix('sha256:')[:12]})"
              for service, c in running.items() if recorded.get(service) != c.image.id]
    evidence.expect_none("containers on an image the release record does not name", differ,
                         message=f"containers run images no release recorded: {'; '.join(differ)}")


@then("the backend runs in this environment with the configured log level")
def runtime_facts(settings: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want_level = profile.threshold("CFG-03", profile.name).get("log_level", profile.threshold("CFG-02", "log_level"))
    evidence.expect_true("environment", settings.get("environment"), settings.get("environment") == profile.name,
                         profile.name, message=f"the backend runs as '{settings.get('environment')}', not {profile.name}")
    evidence.expect_true("log level", settings.get("log_level"), settings.get("log_level") == want_level, want_level,
                         message=f"the backend logs at {settings.get('log_level')}, not {want_level}")


@then("the model files cannot be written")
def model_read_only(target: Target, evidence: Evidence) -> None:
    folder = str(target.path("models"))
    modes = {name: host_probe.file_mode(target.host_of("models"), f"{folder}/{name}") for name in ("", "model.joblib", "model_card.json")}
    evidence.record("model file modes", {n or "the folder": m for n, m in modes.items()})
    writable = [n or "the folder" for n, m in modes.items() if int(m, 8) & 0o222]
    evidence.expect_none("writable model files", writable, message=f"the model is writable: {', '.join(writable)}")


@then("a prediction is served by the model of the model card")
def prediction_served(api: Api, tokens: Tokens, evidence: Evidence) -> None:
    card = api.get("/api/v1/model", tokens["student"]).json()
    me = api.get("/api/v1/users/me", tokens["student"]).json()
    student = api.get("/api/v1/students/me", tokens["student"]).json()
    response = api.post("/api/v1/predictions", tokens["student"], json={"student_id": student["id"]})
    evidence.expect_true("signed in as", me.get("role"), me.get("role") == "student", "student")
    evidence.expect_true("prediction answer", response.status_code, response.status_code == 200, "200",
                         message=f"prediction answered {response.status_code}")
    served = response.json().get("model_version")
    evidence.expect_true("model version of the prediction", served, served == card.get("version"),
                         f"the model card's ({card.get('version')})",
                         message="the prediction's model version is not the model card's")


@when("the networks of the running containers are read", target_fixture="networks")
def networks(target: Target) -> dict[str, Any]:
    return {c.name: {n: v.get("IPAddress") for n, v in c.attrs["NetworkSettings"]["Networks"].items()}
            for c in containers(target)}


@then("every service is on the dedicated network with the specified subnet")
def dedicated_network(networks: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    subnet = str(profile.threshold("APP-08", "subnet"))
    evidence.record("container networks", networks, source="Docker API")
    evidence.expect_true("containers", len(networks), bool(networks), "at least one",
                         message=f"containers outside {subnet}: no containers")
    outside = [n for n, nets in networks.items() if not any(network.in_subnet(ip, subnet) for ip in nets.values())]
    evidence.expect_none(f"containers outside {subnet}", outside,
                         message=f"containers outside {subnet}: {', '.join(outside)}")

"""Authentication, password storage, rate limit, headers and CORS (SEC-01..05), and the model (ML-01)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pytest_bdd import then, when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import Tokens

PROTECTED = [("GET", "/api/v1/students/me"), ("GET", "/api/v1/students/1"), ("GET", "/api/v1/students/1/export"),
             ("POST", "/api/v1/predictions"), ("GET", "/api/v1/classes"), ("GET", "/api/v1/directory"),
             ("GET", "/api/v1/admin/settings"), ("GET", "/api/v1/users/me"), ("GET", "/api/v1/model"),
             ("DELETE", "/api/v1/students/1"), ("POST", "/api/v1/students")]
BCRYPT = re.compile(r"^\$2[aby]\$(\d{2})\$")


def bad_tokens(target: Target, subject: str) -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {"sub": subject, "role": "administrator", "iat": now, "exp": now + timedelta(minutes=5)}
    tokens = {"forged": jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256"),
              "alg=none": jwt.encode(claims, None, algorithm="none"),
              "garbage": "not.a.token"}
    if target.secrets.jwt_secret:
        expired = {**claims, "iat": now - timedelta(hours=3), "exp": now - timedelta(hours=1)}
        tokens["expired"] = jwt.encode(expired, target.secrets.jwt_secret, algorithm="HS256")
    return tokens


@when("the protected endpoints are requested without a token and with bad tokens", target_fixture="answers")
def request_protected(api: Api, target: Target, tokens: Tokens) -> dict[str, Any]:
    issued = tokens["student"]
    subject = str(jwt.decode(issued, options={"verify_signature": False})["sub"])
    variants = {"no token": None, **bad_tokens(target, subject)}
    # Every endpoint without a token; each bad token on a sample, to stay under the per-address rate limit.
    answers = {f"{m} {p} ({name})": api.request(m, p, token).status_code
               for name, token in variants.items() for m, p in (PROTECTED if token is None else PROTECTED[:3])}
    return {"answers": answers, "issued": issued, "variants": sorted(variants)}


@then("every one of them is refused with 401")
def all_refused(answers: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("token variants tried", answers["variants"])
    let_in = {k: v for k, v in answers["answers"].items() if v != 401}
    evidence.measure("requests not refused with 401", let_in, "none")
    assert "expired" in answers["variants"], "could not forge an expired token: the JWT secret is not in the secrets"
    assert not let_in, f"{len(let_in)} request(s) not refused with 401, e.g. {next(iter(let_in.items()))}"


@then("the tokens issued are HS256 and expire after the configured time")
def token_shape(answers: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    header = jwt.get_unverified_header(answers["issued"])
    claims = jwt.decode(answers["issued"], options={"verify_signature": False})
    minutes = (claims["exp"] - claims["iat"]) / 60
    want = profile.threshold("CFG-03", profile.name).get("jwt_expire_minutes", profile.threshold("CFG-02", "jwt_expire_minutes"))
    evidence.measure("token", f"{header['alg']}, expires after {minutes:.0f} min", f"HS256, {want} min")
    assert header["alg"] == "HS256", f"tokens are signed with {header['alg']}"
    assert round(minutes) == want, f"tokens expire after {minutes:.0f} minutes, not {want}"


@when("the stored password hashes are read", target_fixture="hashes")
def stored_hashes(target: Target) -> list[str]:
    with target.connect_db() as conn:
        return [r[0] for r in conn.execute("SELECT password_hash FROM users")]


@then("every hash is bcrypt with the required cost")
def bcrypt_cost(hashes: list[str], profile: Profile, evidence: Evidence) -> None:
    cost = int(profile.threshold("SEC-02", "bcrypt_cost"))
    costs = sorted({int(m.group(1)) if (m := BCRYPT.match(h)) else -1 for h in hashes})
    evidence.measure("bcrypt costs found", costs, cost)
    assert hashes, "there are no stored passwords to examine"
    assert costs == [cost], f"stored hashes have cost(s) {costs} (-1: not bcrypt), expected {cost}"


@when("a fresh client sends one request more than the limit within a minute", target_fixture="limited")
def exceed_limit(api: Api, suite_data: Fixtures, profile: Profile) -> list[Any]:
    limit = int(profile.threshold("SEC-03", "per_minute"))
    person = suite_data.account("student", label="ratelimit")
    token = api.login(person.username, person.password)
    return [api.get("/api/v1/users/me", token) for _ in range(limit + 1)]


@then("the requests within the limit are answered")
def within_limit(limited: list[Any], evidence: Evidence) -> None:
    codes = [r.status_code for r in limited[:-1]]
    evidence.measure("answers within the limit", {c: codes.count(c) for c in set(codes)}, "all 200")
    assert set(codes) == {200}, f"requests within the limit were refused: {sorted(set(codes))}"


@then("the request over the limit is refused with 429 and a Retry-After header")
def over_limit(limited: list[Any], evidence: Evidence) -> None:
    last = limited[-1]
    evidence.measure("request over the limit", f"{last.status_code} Retry-After={last.headers.get('Retry-After')}", "429 with Retry-After")
    assert last.status_code == 429, f"the request over the limit got {last.status_code}"
    assert last.headers.get("Retry-After", "").isdigit(), "the 429 has no Retry-After header"


@when("the frontend and the API are requested through the proxy", target_fixture="responses")
def header_responses(api: Api) -> dict[str, Any]:
    return {"/": api.get("/"), "/api/v1/students/me": api.get("/api/v1/students/me"), "/health": api.get("/health"),
            "/api/v1/docs": api.get("/api/v1/docs")}


@then("every response carries HSTS, nosniff and frame protection")
def security_headers(responses: dict[str, Any], evidence: Evidence) -> None:
    missing = {}
    for path, r in responses.items():
        h = {k.lower(): v for k, v in r.headers.items()}
        lacks = [n for n in ("strict-transport-security", "x-content-type-options") if n not in h]
        if "x-frame-options" not in h and "frame-ancestors" not in h.get("content-security-policy", ""):
            lacks.append("frame protection")
        if lacks:
            missing[path] = lacks
    evidence.measure("missing security headers", missing, "none")
    assert not missing, f"security headers missing: {missing}"


@then("no response reveals the server's version")
def server_hidden(responses: dict[str, Any], evidence: Evidence) -> None:
    servers = {p: r.headers.get("Server", "") for p, r in responses.items()}
    evidence.measure("Server headers", servers, "no version")
    revealing = {p: s for p, s in servers.items() if re.search(r"\d", s)}
    assert not revealing, f"the server version is revealed: {revealing}"


@then("the API documentation is published only where the profile allows")
def docs_per_profile(responses: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    allowed = profile.threshold("SEC-04", "api_docs_public")
    status = responses["/api/v1/docs"].status_code
    evidence.measure("GET /api/v1/docs", status, "200" if allowed else "404")
    assert (status == 200) == allowed, f"API docs answer {status}, the profile {'allows' if allowed else 'forbids'} them"


@when("cross-origin preflight requests are sent from a configured and a foreign origin", target_fixture="preflight")
def preflight(api: Api, effective_settings: dict[str, Any]) -> dict[str, Any]:
    origins = effective_settings.get("cors_origins") or []
    if not origins:
        raise ProbeError("the running backend reports no configured CORS origin to test")
    ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    out = {}
    for label, origin in (("configured", origins[0]), ("foreign", "https://attacker.example")):
        r = api.request("OPTIONS", "/api/v1/students/me", headers={"Origin": origin, **ask})
        out[label] = {"origin": origin, "status": r.status_code, "allow": r.headers.get("Access-Control-Allow-Origin")}
    return out


@then("the configured origin is allowed")
def configured_allowed(preflight: dict[str, Any], evidence: Evidence) -> None:
    c = preflight["configured"]
    evidence.measure("configured origin", c, "allowed")
    assert c["allow"] in (c["origin"], "*") and c["status"] == 200, f"the configured origin is refused: {c}"


@then("the foreign origin is not")
def foreign_refused(preflight: dict[str, Any], evidence: Evidence) -> None:
    f = preflight["foreign"]
    evidence.measure("foreign origin", f, "not allowed")
    assert f["allow"] is None, f"a foreign origin is allowed: {f}"


@when("predictions are requested with valid and invalid input", target_fixture="predictions")
def predictions(api: Api, tokens: Tokens) -> dict[str, Any]:
    token = tokens["student"]
    me = api.get("/api/v1/students/me", token).json()
    valid = api.post("/api/v1/predictions", token, json={"student_id": me["id"]})
    features = {**me["attributes"], "G1": me["grades"]["G1"], "G2": me["grades"]["G2"]}
    invalid = {"age 99": api.post("/api/v1/predictions", token, json={"features": {**features, "age": 99}}),
               "missing field": api.post("/api/v1/predictions", token, json={"features": {"school": "GP"}}),
               "wrong type": api.post("/api/v1/predictions", token, json={"student_id": "one"})}
    return {"valid": valid, "invalid": invalid, "card": api.get("/api/v1/model", token).json()}


@then("a valid request gets a prediction with the model version")
def valid_prediction(predictions: dict[str, Any], evidence: Evidence) -> None:
    r = predictions["valid"]
    evidence.measure("valid request", f"{r.status_code} {r.text[:100]}", "200 with prediction and model_version")
    assert r.status_code == 200, f"a valid prediction request answered {r.status_code}"
    body = r.json()
    assert body.get("prediction") in ("pass", "fail") and body.get("model_version"), f"incomplete prediction: {body}"


@then("an invalid request is refused with 422")
def invalid_refused(predictions: dict[str, Any], evidence: Evidence) -> None:
    codes = {k: r.status_code for k, r in predictions["invalid"].items()}
    evidence.measure("invalid requests", codes, "all 422")
    wrong = {k: c for k, c in codes.items() if c != 422}
    assert not wrong, f"invalid input not refused with 422: {wrong}"


@then("the model card's held-out accuracy is at least the floor")
def accuracy(predictions: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    floor = float(str(profile.threshold("ML-01", "min_accuracy")).rstrip(" %")) / 100
    card = predictions["card"]
    got = card.get("metrics_held_out", {}).get("accuracy")
    evidence.measure("held-out accuracy", got, f">= {floor}")
    evidence.measure("published baseline", card.get("published_baseline"))
    assert got is not None and got >= floor, f"held-out accuracy {got} is under the floor {floor}"

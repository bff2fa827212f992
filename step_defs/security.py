"""Authentication, password storage, rate limit, headers and CORS (SEC-01..05), and the model (ML-01)."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import database as db
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import model as model_probe
from edupro_verify.probes import tokens as token_probe
from edupro_verify.probes.fixtures import OWN_ROWS, Fixtures
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import Tokens

PROTECTED = [("GET", "/api/v1/students/me"), ("GET", "/api/v1/students/1"), ("GET", "/api/v1/students/1/export"),
             ("POST", "/api/v1/predictions"), ("GET", "/api/v1/classes"), ("GET", "/api/v1/directory"),
             ("GET", "/api/v1/admin/settings"), ("GET", "/api/v1/users/me"), ("GET", "/api/v1/model"),
             ("DELETE", "/api/v1/students/1"), ("POST", "/api/v1/students")]
BCRYPT = re.compile(r"^\$2[aby]\$(\d{2})\$")


@when("the protected endpoints are requested without a token and with bad tokens", target_fixture="answers")
def request_protected(api: Api, target: Target, tokens: Tokens) -> dict[str, Any]:
    issued = tokens["student"]
    subject = str(token_probe.unverified(issued)[1]["sub"])
    variants = {"no token": None, **token_probe.bad_tokens(subject, target.secrets.jwt_secret)}
    # Every endpoint without a token; each bad token on a sample, to stay under the per-address rate limit. A 429
    # met on the way (the limit the suite's own earlier requests filled) is waited out, never judged.
    answers, waited = {}, 0.0
    for name, token in variants.items():
        for method, path in PROTECTED if token is None else PROTECTED[:3]:
            response, wait = api.request_past_limit(method, path, token)
            answers[f"{method} {path} ({name})"], waited = response.status_code, waited + wait
    return {"answers": answers, "issued": issued, "variants": sorted(variants), "waited": waited}


@then("every one of them is refused with 401")
def all_refused(answers: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("token variants tried", answers["variants"])
    if answers["waited"]:
        evidence.record("waited out the rate limit the suite's own requests had filled", round(answers["waited"]),
                        unit="s")
    forged = "expired" in answers["variants"]
    evidence.expect_true("an expired token signed with the declared key", forged, forged, "tried",
                         message="could not forge an expired token: the JWT secret is not in the secrets")
    let_in = [f"{k}: {v}" for k, v in answers["answers"].items() if v != 401]
    evidence.expect_none("requests not refused with 401", let_in,
                         message=f"{len(let_in)} request(s) not refused with 401, e.g. {let_in[0] if let_in else ''}")


@then("the tokens issued are HS256 and expire after the configured time")
def token_shape(answers: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    header, claims = token_probe.unverified(answers["issued"])
    minutes = (claims["exp"] - claims["iat"]) / 60
    want = profile.threshold("CFG-03", profile.name).get("jwt_expire_minutes", profile.threshold("CFG-02", "jwt_expire_minutes"))
    algorithm = profile.threshold("CFG-02", "jwt_algorithm")
    evidence.expect_true("token algorithm", header["alg"], header["alg"] == algorithm, algorithm,
                         message=f"tokens are signed with {header['alg']}")
    evidence.expect_true("token lifetime", f"{minutes:.0f} min", round(minutes) == want, f"{want} min",
                         message=f"tokens expire after {minutes:.0f} minutes, not {want}")


@when("the stored password hashes are read", target_fixture="hashes")
def stored_hashes(target: Target) -> list[str]:
    """The deployment's own accounts: the suite's fixtures are hashed by the suite, not the application."""
    with target.connect_db() as conn:
        return db.password_hashes(conn, OWN_ROWS["users"])


@then("every hash is bcrypt with the required cost")
def bcrypt_cost(hashes: list[str], profile: Profile, evidence: Evidence) -> None:
    cost = int(profile.threshold("SEC-02", "bcrypt_cost"))
    costs = sorted({int(m.group(1)) if (m := BCRYPT.match(h)) else -1 for h in hashes})
    evidence.record("stored hashes", len(hashes))
    if not hashes:  # nothing measured is no verdict on the deployment
        raise ProbeError("the deployment stores no password of its own to examine (only the suite's fixture accounts): "
                         "create its accounts (the school's teachers and administrator) before this check")
    evidence.expect_true("bcrypt costs found (-1: not bcrypt)", costs, costs == [cost], f"only {cost}",
                         message=f"stored hashes have cost(s) {costs} (-1: not bcrypt), expected {cost}")


@when("a fresh client sends one request more than the limit within a minute", target_fixture="limited")
def exceed_limit(api: Api, suite_data: Fixtures, profile: Profile) -> list[Any]:
    limit = int(profile.threshold("SEC-03", "per_minute"))
    person = suite_data.account("student", label="ratelimit")
    token = api.login(person.username, person.password)
    return [api.get("/api/v1/users/me", token) for _ in range(limit + 1)]


@then("the requests within the limit are answered")
def within_limit(limited: list[Any], evidence: Evidence) -> None:
    codes = [r.status_code for r in limited[:-1]]
    evidence.expect_true("answers within the limit", {str(c): codes.count(c) for c in sorted(set(codes))},
                         set(codes) == {200}, "all 200",
                         message=f"requests within the limit were refused: {sorted(set(codes))}")


@then("the request over the limit is refused with 429 and a Retry-After header")
def over_limit(limited: list[Any], evidence: Evidence) -> None:
    last = limited[-1]
    evidence.expect_true("answer over the limit", last.status_code, last.status_code == 429, "429",
                         message=f"the request over the limit got {last.status_code}")
    retry = last.headers.get("Retry-After", "")
    evidence.expect_true("Retry-After", retry or "missing", retry.isdigit(), "a number of seconds",
                         message="the 429 has no Retry-After header")


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
    wrong = [f"{path}: {', '.join(lacks)}" for path, lacks in missing.items()]
    evidence.expect_none("security headers missing", wrong, message=f"security headers missing: {'; '.join(wrong)}")


@then("no response reveals the server's version")
def server_hidden(responses: dict[str, Any], evidence: Evidence) -> None:
    servers = {p: r.headers.get("Server", "") for p, r in responses.items()}
    evidence.record("Server headers", servers)
    revealing = [f"{p}: {s}" for p, s in servers.items() if re.search(r"\d", s)]
    evidence.expect_none("Server headers with a version", revealing,
                         message=f"the server version is revealed: {'; '.join(revealing)}")


@then("the API documentation is published only where the profile allows")
def docs_per_profile(responses: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    allowed = profile.threshold("SEC-04", "api_docs_public")
    status = responses["/api/v1/docs"].status_code
    evidence.expect_true("GET /api/v1/docs", status, (status == 200) == allowed, "200" if allowed else "not 200",
                         message=f"API docs answer {status}, the profile {'allows' if allowed else 'forbids'} them")


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
    if c["origin"] == "*":
        message = "the configured origins are a wildcard (*): every origin is admitted, none is named"
    else:
        message = (f"the configured origin {c['origin']} is not admitted: the preflight answered {c['status']} with "
                   f"Access-Control-Allow-Origin {c['allow'] or 'absent'}")
    evidence.expect_true("configured origin", c, c["origin"] != "*" and c["allow"] == c["origin"] and c["status"] == 200,
                         "allowed", message=message)


@then("the foreign origin is not")
def foreign_refused(preflight: dict[str, Any], evidence: Evidence) -> None:
    f = preflight["foreign"]
    admitted = ("every origin is admitted (Access-Control-Allow-Origin: *)" if f["allow"] == "*" else
                f"the foreign origin {f['origin']} is admitted (Access-Control-Allow-Origin: {f['allow']})")
    evidence.expect_true("foreign origin", f, f["allow"] is None, "not allowed", message=admitted)


@when("predictions are requested with valid and invalid input", target_fixture="predictions")
def predictions(api: Api, tokens: Tokens) -> dict[str, Any]:
    token = tokens["student"]
    me = api.get("/api/v1/students/me", token).json()
    valid = api.post("/api/v1/predictions", token, json={"student_id": me["id"]})
    features = {**me["attributes"], "G1": me["grades"]["G1"], "G2": me["grades"]["G2"]}
    invalid = {"age 99": api.post("/api/v1/predictions", token, json={"features": {**features, "age": 99}}),
               "missing field": api.post("/api/v1/predictions", token, json={"features": {"school": "GP"}}),
               "wrong type": api.post("/api/v1/predictions", token, json={"student_id": "one"})}
    return {"valid": valid, "invalid": invalid}


@then("a valid request gets a prediction with the model version")
def valid_prediction(predictions: dict[str, Any], evidence: Evidence) -> None:
    r = predictions["valid"]
    evidence.expect_true("valid request", r.status_code, r.status_code == 200, "200",
                         message=f"a valid prediction request answered {r.status_code}")
    body = r.json()
    shown = {k: body.get(k) for k in ("prediction", "probability", "model_version")}
    evidence.expect_true("prediction", shown, body.get("prediction") in ("pass", "fail") and bool(body.get("model_version")),
                         "pass or fail, with the model version", message=f"incomplete prediction: {body}")


@then("an invalid request is refused with 422")
def invalid_refused(predictions: dict[str, Any], evidence: Evidence) -> None:
    codes = {k: r.status_code for k, r in predictions["invalid"].items()}
    evidence.record("answers to invalid requests", codes)
    wrong = [f"{k}: {c}" for k, c in codes.items() if c != 422]
    evidence.expect_none("invalid requests not refused with 422", wrong,
                         message=f"invalid input not refused with 422: {', '.join(wrong)}")


@when("the suite's held-out students are sent through the prediction API", target_fixture="evaluation")
def evaluation(api: Api, tokens: Tokens, suite_data: Fixtures, profile: Profile) -> dict[str, Any]:
    students = model_probe.held_out_students(profile.specs / profile.threshold("ML-01", "evaluation_set"))
    per_minute = int(profile.threshold("SEC-03", "per_minute"))

    def login() -> str:  # fixture accounts of the suite's own, so no other scenario's rate limit is spent
        person = suite_data.account("student", label="evaluator")
        return api.login(person.username, person.password)

    result = model_probe.evaluate(api, students, login, per_login=per_minute - 1 if per_minute > 1 else len(students))
    return {"result": result, "card": api.get("/api/v1/model", tokens["student"]).json()}


@then("the served model predicts them at least as accurately as the floor")
def live_accuracy(evaluation: dict[str, Any], evidence: Evidence) -> None:
    result: model_probe.Evaluation = evaluation["result"]
    evidence.record("held-out students sent", result.students, source="prediction API")
    evidence.record("fixture accounts used (rate limit)", result.accounts)
    evidence.record("model versions that answered", sorted(result.versions))
    evidence.record("students predicted wrongly (their line in the source file)", result.wrong_rows)
    evidence.expect_none("held-out students refused (answer: count)", {str(k): v for k, v in result.refused.items()},
                         message=f"valid held-out students were refused: {dict(result.refused)}")
    evidence.expect("accuracy measured through the API", result.accuracy, "min_accuracy", source="prediction API")


@then("the measured accuracy is the one the model card states")
def accuracy_as_claimed(evaluation: dict[str, Any], evidence: Evidence) -> None:
    claim = evaluation["card"].get("metrics_held_out", {}).get("accuracy")
    evidence.record("published baseline", evaluation["card"].get("published_baseline"), source="model card")
    evidence.expect_true("held-out accuracy on the model card", claim, isinstance(claim, int | float), "stated",
                         source="model card", message="the model card states no held-out accuracy")
    gap = abs(float(claim) - evaluation["result"].accuracy)
    evidence.expect("gap between the card's accuracy and the measured one", gap, "max_claim_gap")


@then("the model file on the host is the one the model card describes")
def model_file_as_described(evaluation: dict[str, Any], target: Target, evidence: Evidence) -> None:
    stated = evaluation["card"].get("model_sha256")
    evidence.expect_true("model SHA-256 on the card", stated, bool(stated), "stated", source="model card",
                         message="the model card states no digest of its model file")
    path = f"{target.path('models')}/model.joblib"
    found = host_probe.file_digest(target.host_of("models"), path)
    evidence.expect_true("model file SHA-256", found, found == stated, f"the card's ({stated})", source=path,
                         message=f"the model file is not the one the card describes (SHA-256 {found[:12]}…, "
                                 f"card {str(stated)[:12]}…)")

"""FERPA and GDPR on the live system, with the suite's own fixture students (DATA-01..06)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pytest_bdd import given, when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import logs, privacy, routes
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.probes.http import Api, plain_http
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import Tokens

MARKERS = ("name", "student_no")
REFUSED = (401, 403, 404)


@pytest.fixture
def cast(api: Api, tokens: Tokens, suite_data: Fixtures) -> dict[str, Any]:
    """Two students in different classes; a teacher of the first one's class only; an administrator."""
    admin = tokens["administrator"]
    teacher_id, class_id = suite_data.teacher_with_class()
    first = suite_data.student(admin, api, f"Ana Fixture {suite_data.tag}", f"ana.{suite_data.tag}@synthetic.edupro.invalid", class_id)
    second = suite_data.student(admin, api, f"Rui Fixture {suite_data.tag}", f"rui.{suite_data.tag}@synthetic.edupro.invalid")
    people = {"first": suite_data.account("student", student_id=first, label="first"),
              "second": suite_data.account("student", student_id=second, label="second"),
              "teacher": suite_data.account("teacher", teacher_id=teacher_id),
              "admin": suite_data.account("administrator")}
    with ThreadPoolExecutor(len(people)) as pool:  # bcrypt at cost 12 on the server: log in side by side
        tokens_ = pool.map(lambda p: api.login(p.username, p.password), people.values())
        for person, token in zip(people.values(), tokens_, strict=True):
            person.token = token
    return {"ids": {"first": first, "second": second}, "people": people, "class_id": class_id}


@given("two fixture students in different classes, their teacher and an administrator", target_fixture="roles")
def roles(cast: dict[str, Any]) -> dict[str, Any]:
    return cast


@when("each role requests each student's record", target_fixture="matrix")
def role_matrix(roles: dict[str, Any], api: Api) -> dict[tuple[str, str], Any]:
    return {(who, whose): api.get(f"/api/v1/students/{sid}", person.token)
            for who, person in roles["people"].items() for whose, sid in roles["ids"].items()}


def allowed(matrix: dict[tuple[str, str], Any], who: str, whose: str) -> bool:
    return matrix[(who, whose)].status_code == 200


@then("a student reads only their own record")
def student_rule(matrix: dict[tuple[str, str], Any], evidence: Evidence) -> None:
    seen = {f"{w} reads {s}": matrix[(w, s)].status_code for w in ("first", "second") for s in ("first", "second")}
    evidence.record("answers to students", seen)
    own = allowed(matrix, "first", "first") and allowed(matrix, "second", "second")
    evidence.expect_true("own record", own, own, "readable", message="a student cannot read their own record")
    other = allowed(matrix, "first", "second") or allowed(matrix, "second", "first")
    evidence.expect_true("another student's record", other, not other, "refused",
                         message="a student reads another student's record")


@then("a teacher reads only their class's students")
def teacher_rule(matrix: dict[tuple[str, str], Any], evidence: Evidence) -> None:
    evidence.record("answers to the teacher", {s: matrix[("teacher", s)].status_code for s in ("first", "second")})
    mine = allowed(matrix, "teacher", "first")
    evidence.expect_true("a student of the class", mine, mine, "readable",
                         message="a teacher cannot read a student of their class")
    other = allowed(matrix, "teacher", "second")
    evidence.expect_true("a student outside the class", other, not other, "refused",
                         message="a teacher reads a student outside their classes")


@then("an administrator reads every student")
def admin_rule(matrix: dict[tuple[str, str], Any], evidence: Evidence) -> None:
    both = allowed(matrix, "admin", "first") and allowed(matrix, "admin", "second")
    evidence.expect_true("every student", both, both, "readable", message="an administrator cannot read every student")


@then("no refused answer contains the other student's data")
def no_leak(matrix: dict[tuple[str, str], Any], roles: dict[str, Any], api: Api, evidence: Evidence) -> None:
    answers = {whose: api.get(f"/api/v1/students/{sid}", roles["people"]["admin"].token)
               for whose, sid in roles["ids"].items()}
    unread = [whose for whose, r in answers.items() if r.status_code != 200]
    if unread:
        raise ProbeError(f"the administrator could not read the {' and '.join(unread)} student's name to look for it")
    names = {whose: r.json()["name"] for whose, r in answers.items()}
    leaks = [f"{w}->{s}" for (w, s), r in matrix.items() if r.status_code != 200 and names[s] in r.text]
    evidence.expect_none("refused answers carrying the student's name", leaks,
                         message=f"refused answers carry the student's name: {', '.join(leaks)}")


@then("only the class's teacher and an administrator see its class list, with its students only")
def class_list_rule(roles: dict[str, Any], api: Api, evidence: Evidence) -> None:
    path = f"/api/v1/classes/{roles['class_id']}/students"
    answers = {who: api.get(path, person.token) for who, person in roles["people"].items()}
    evidence.record("answers to the class list", {who: r.status_code for who, r in answers.items()})
    seen = {who: sorted(s["id"] for s in r.json()["students"]) for who, r in answers.items() if r.status_code == 200}
    expected = {"teacher": [roles["ids"]["first"]], "admin": [roles["ids"]["first"]]}
    evidence.expect_true("who sees the class list, and whom", seen, seen == expected,
                         "its teacher and an administrator; its one student",
                         message=f"the class list was seen by {', '.join(seen) or 'nobody'} "
                                 f"with {sum(map(len, seen.values()))} students in all")


@when("each route the API's own description lists as returning a student's data is requested for a student the role "
      "must not see", target_fixture="routes_tried")
def routes_tried(roles: dict[str, Any], api: Api, target: Target, suite_data: Fixtures) -> dict[str, Any]:
    document, source = routes.description(target, api)
    found = routes.returning_a_student(document)
    if not found:
        raise ProbeError(f"the API's description ({source}) lists no route that returns a student's data")
    _, other_class = suite_data.teacher_with_class()  # a class the fixture teacher does not teach
    # A student sees no one else and no class list; the teacher neither a student nor a class outside theirs.
    outside = {"first": {"student_id": roles["ids"]["second"], "class_id": roles["class_id"]},
               "teacher": {"student_id": roles["ids"]["second"], "class_id": other_class}}
    answers = {}
    for route in (r for r in found if not r.unknown):
        for who, values in outside.items():
            method, path, body = route.request(values)
            response, _ = api.request_past_limit(method, path, roles["people"][who].token, **body)
            answers[f"{who} {method} {path}"] = response.status_code
    return {"source": source, "answers": answers, "untried": [f"{r} ({', '.join(r.unknown)})" for r in found if r.unknown]}


@then("no route answers a student or a teacher with that student's data")
def no_route_leaks(routes_tried: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("the API's description", routes_tried["source"])
    evidence.record("answers", routes_tried["answers"])
    leaks = [request for request, status in routes_tried["answers"].items() if 200 <= status < 300]
    evidence.expect_none("routes answering with data to a role that must not see the student", leaks,
                         message=f"{len(leaks)} route(s) gave a student's data to a role that must not see it: "
                                 f"{', '.join(leaks)}")
    # Refused is 401, 403 or 404 (the API does not say whether a record it will not show exists); anything else
    # (a 422, a 5xx) leaves the route untested.
    unjudged = [f"{request}: {status}" for request, status in routes_tried["answers"].items()
                if not 200 <= status < 300 and status not in REFUSED]
    evidence.expect_none("routes whose answer is neither data nor a refusal", unjudged,
                         message=f"route(s) answered neither with data nor with a refusal, so not judged: "
                                 f"{', '.join(unjudged)}")
    evidence.expect_none("routes the suite could not fill in", routes_tried["untried"],
                         message=f"routes with path parameters the suite cannot fill, so not tried: "
                                 f"{', '.join(routes_tried['untried'])}")


@when("the teacher reads a student's record once", target_fixture="disclosed")
def teacher_reads(roles: dict[str, Any], api: Api, target: Target) -> dict[str, Any]:
    sid = roles["ids"]["first"]
    before = privacy.disclosures(target, sid)
    response = api.get(f"/api/v1/students/{sid}", roles["people"]["teacher"].token)
    after = privacy.disclosures(target, sid)
    return {"before": len(before), "after": after, "status": response.status_code}


@then("exactly one disclosure is recorded with who, what, when and why")
def one_entry(disclosed: dict[str, Any], api: Api, roles: dict[str, Any], evidence: Evidence) -> None:
    added = len(disclosed["after"]) - disclosed["before"]
    evidence.expect_true("the teacher's read", disclosed["status"], disclosed["status"] == 200, "200",
                         message=f"the teacher's read answered {disclosed['status']}")
    evidence.expect_true("disclosures added by one read", added, added == 1, "exactly 1",
                         message=f"one read added {added} disclosure entries")
    actor, role, record, purpose, when_ = disclosed["after"][-1]
    teacher_id = api.get("/api/v1/users/me", roles["people"]["teacher"].token).json()["id"]
    entry = {"actor": actor, "role": role, "record": record, "purpose": purpose, "at": when_}
    complete = actor == teacher_id and role == "teacher" and bool(record and purpose and when_)
    evidence.expect_true("entry", entry, complete, "the teacher, the record, when and why",
                         message="the entry lacks who, what, when or why")


@then("the teacher's class list records one disclosure for each student it shows")
def class_list_disclosed(roles: dict[str, Any], api: Api, target: Target, evidence: Evidence) -> None:
    sid = roles["ids"]["first"]
    before = len(privacy.disclosures(target, sid))
    response = api.get(f"/api/v1/classes/{roles['class_id']}/students", roles["people"]["teacher"].token)
    after = privacy.disclosures(target, sid)
    shown = [s["id"] for s in response.json()["students"]] if response.status_code == 200 else []
    added = len(after) - before
    recorded = added == 1 and after[-1][1] == "teacher" and after[-1][2] == "class_view"
    evidence.expect_true("disclosures added by one class list", added, response.status_code == 200 and shown == [sid]
                         and recorded, "one per student shown, by the teacher",
                         message=f"the class list answered {response.status_code}, showed {len(shown)} students "
                                 f"and added {added} disclosure entries")


@then("the application's database role cannot alter or delete disclosures")
def append_only(target: Target, evidence: Evidence) -> None:
    app_role = target.app_role
    rights, guarded = privacy.disclosure_guards(target, app_role)
    granted = [p for p, ok in rights.items() if ok]
    evidence.expect_true(f"{app_role} may", granted, rights["INSERT"] and rights["SELECT"], "INSERT and SELECT",
                         message="the application cannot record or read disclosures")
    altering = [p for p in ("UPDATE", "DELETE", "TRUNCATE") if rights[p]]
    evidence.expect_none(f"{app_role} may alter disclosures by", altering,
                         message=f"the application role may {', '.join(altering)} disclosures")
    evidence.expect_true("enabled append-only triggers", guarded, guarded > 0, "at least one",
                         message="no enabled trigger keeps disclosures append-only")


@then("rewriting a disclosure is refused to the application and to the schema's owner alike")
def rewrites_refused(target: Target, evidence: Evidence) -> None:
    for who, as_application in ((target.app_role, True), (str(target.database["user"]), False)):
        tried = privacy.try_rewrites(target, as_application)
        evidence.record(f"{who} tried, rolled back", tried, source="database")
        done = [f"{op} ({result.removeprefix('done: ')})" for op, result in tried.items() if result.startswith("done")]
        evidence.expect_none(f"rewrites {who} could make", done, source="database",
                             message=f"{who} could {', '.join(done)} disclosures (rolled back)")


@given("a fixture student with canary personal data", target_fixture="canary")
def canary(api: Api, tokens: Tokens, suite_data: Fixtures) -> dict[str, Any]:
    name = f"{suite_data.canary('Name')} Zzyzx"
    email = f"{suite_data.canary('mail').lower()}@synthetic.edupro.invalid"
    sid = suite_data.student(tokens["administrator"], api, name, email)
    person = suite_data.account("student", student_id=sid, label="canary")
    person.token = api.login(person.username, person.password)
    return {"id": sid, "values": [name, email, person.username], "person": person}


@when("the canary student's record is read, exported and predicted")
def exercise_canary(canary: dict[str, Any], api: Api, tokens: Tokens, evidence: Evidence) -> None:
    sid, person = canary["id"], canary["person"]
    answers = [r.status_code for r in (
        api.get("/api/v1/students/me", person.token), api.get(f"/api/v1/students/{sid}/export", person.token),
        api.post("/api/v1/predictions", person.token, json={"student_id": sid}),
        api.get(f"/api/v1/students/{sid}", tokens["administrator"]))]
    failed = [c for c in answers if c != 200]
    evidence.expect_none("canary requests not answered 200", failed,
                         message=f"exercising the canary student failed with {failed[0] if failed else ''}")


@then("no log file contains the canary values")
def logs_clean(canary: dict[str, Any], target: Target, evidence: Evidence) -> None:
    files = logs.log_files(target)
    hits = [f"{f}: {v[:12]}…" for host, f in files for v in canary["values"]
            if host.run("grep -qF %s %s", v, f).rc == 0]
    outputs = logs.container_logs(target)
    hits += [f"{name}: {v[:12]}…" for name, text in outputs.items() for v in canary["values"] if v in text]
    searched = len(files) + len(outputs)
    evidence.expect_true("log files and container outputs searched", searched, searched > 0, "at least one",
                         message="no log file and no container output found")
    evidence.expect_none("canary values found in logs", hits, message=f"personal data written to logs: {', '.join(hits)}")


@when("the first student exports their data", target_fixture="export")
def student_export(roles: dict[str, Any], api: Api) -> Any:
    return api.get(f"/api/v1/students/{roles['ids']['first']}/export", roles["people"]["first"].token)


@then("the export holds their record and its disclosures")
def export_complete(export: Any, roles: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_true("export", export.status_code, export.status_code == 200, "200",
                         message=f"the export answered {export.status_code}")
    evidence.record("export size", len(export.content), unit="B")
    body = export.json()
    has_record = body["record"]["id"] == roles["ids"]["first"] and bool(body["record"]["email"])
    evidence.expect_true("the student's record", has_record, has_record, "included", message="the export lacks the record")
    evidence.expect_true("disclosures listed", len(body["disclosures"]), bool(body["disclosures"]), "at least one",
                         message="the export does not list who has seen the record")


@when("an administrator erases the first student", target_fixture="erased")
def erase(roles: dict[str, Any], api: Api, target: Target) -> dict[str, Any]:
    sid = roles["ids"]["first"]
    before = privacy.grade_aggregates(target)
    response = api.request("DELETE", f"/api/v1/students/{sid}", roles["people"]["admin"].token)
    after = privacy.grade_aggregates(target)
    stored = privacy.stored_identity(target, sid)
    record = api.get(f"/api/v1/students/{sid}", roles["people"]["admin"].token).json()
    return {"status": response.status_code, "before": before, "after": after, "stored": stored, "record": record,
            "old_name": "Ana Fixture"}


@then("the student's identifying data is gone from the API and the database")
def identity_gone(erased: dict[str, Any], evidence: Evidence) -> None:
    name, email, born = erased["stored"]
    evidence.record("the API after erasure", {k: erased["record"].get(k) for k in ("name", "email", "birth_date")})
    evidence.expect_true("erasure", erased["status"], erased["status"] == 200, "200",
                         message=f"erasure answered {erased['status']}")
    evidence.expect_true("stored name", "the old name" if erased["old_name"] in name else "replaced",
                         erased["old_name"] not in name, "replaced", message="the name survived erasure")
    kept = [k for k, v in (("e-mail", email), ("date of birth", born)) if v is not None]
    evidence.expect_none("identifying data stored after erasure", kept,
                         message="the e-mail or date of birth survived erasure in the database")
    evidence.expect_true("e-mail in the API", erased["record"].get("email") is not None,
                         erased["record"].get("email") is None, "none",
                         message="the API still returns the e-mail after erasure")


@then("the student's grades still count in the aggregates")
def aggregates_kept(erased: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_true("grades (count, sum of G3)", {"before": erased["before"], "after": erased["after"]},
                         erased["before"] == erased["after"], "unchanged", message="erasure changed the grade aggregates")


@when("the transport and storage of personal data are examined", target_fixture="protection")
def protection(target: Target, profile: Profile) -> dict[str, Any]:
    columns = profile.threshold("DATA-05", "protected_columns")
    return {**privacy.storage_protection(target), "sealed": privacy.sealed_values(target, columns),
            "key": target.secrets.data_encryption_key}


@then("clients reach the API only over TLS")
def clients_tls(target: Target, evidence: Evidence) -> None:
    evidence.expect_true("public base URL", target.base_url, target.base_url.startswith("https://"), "https://",
                         message="the public endpoint is not HTTPS")
    if target.http_url:
        r = plain_http(target.http_url, "/api/v1/students/me")
        evidence.expect_true("plain HTTP answer", r.status_code, r.status_code in (301, 308) and "student" not in r.text,
                             "a redirect without content", source=target.http_url,
                             message="the API answers over plain HTTP")


@then("database connections are encrypted where the profile requires it")
def database_tls(protection: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    required = profile.threshold("DATA-05", "database_tls_required")
    evidence.expect_true("TLS offered", protection["ssl_on"], protection["ssl_on"], "yes",
                         message="the database server does not offer TLS")
    evidence.record("accepts unencrypted connections", protection["plain_allowed"])
    if required:
        evidence.expect_true("unencrypted connection", "accepted" if protection["plain_allowed"] else "refused",
                             not protection["plain_allowed"], "refused",
                             message="the database accepts unencrypted connections")
    if protection["between_tiers"]:  # the tiers on servers of their own: what the application servers may do
        evidence.record("unencrypted connection taken from the application servers", protection["between_tiers"])
    if required:
        plain = [path for path, taken in protection["between_tiers"].items() if taken]
        evidence.expect_none("application servers whose unencrypted connection the data tier takes", plain,
                             message=f"the data tier takes unencrypted connections from the application tier: "
                                     f"{', '.join(plain)}")


@then("e-mail addresses and dates of birth are not stored in plain text")
def at_rest(protection: dict[str, Any], evidence: Evidence) -> None:
    sealed = protection["sealed"]
    evidence.expect_true("sealed values examined (every row)", len(sealed), bool(sealed), "at least one",
                         message="no stored e-mail or date of birth to examine")
    evidence.expect_none("plain-text personal columns", protection["plain_columns"],
                         message=f"plain-text personal columns: {', '.join(protection['plain_columns'])}")
    evidence.record("decrypted with the declared key", bool(protection["key"]),
                    source="the secrets" if protection["key"] else "no data_encryption_key in the secrets")
    problems = [f"{where} id {row}: {why}" for where, row, value in sealed
                if (why := privacy.fernet_problem(value, protection["key"]))]
    evidence.expect_none("stored values that are not Fernet ciphertexts", problems[:5],
                         message=f"{len(problems)} of {len(sealed)} personal values are not sealed as declared, "
                                 f"first: {problems[0] if problems else ''}")


@when("the first student opts out of directory information", target_fixture="directory")
def opt_out(roles: dict[str, Any], api: Api) -> dict[str, Any]:
    first = roles["people"]["first"]
    response = api.request("PUT", "/api/v1/students/me/directory-opt-out", first.token, json={"opt_out": True})
    listing = api.get("/api/v1/directory", roles["people"]["second"].token).json()
    entry = api.get(f"/api/v1/directory/{roles['ids']['first']}", roles["people"]["second"].token)
    other = api.get(f"/api/v1/directory/{roles['ids']['second']}", roles["people"]["first"].token)
    return {"status": response.status_code, "ids": {e["id"] for e in listing}, "entry": entry.status_code,
            "other": other.status_code}


@then("the directory no longer shows the first student")
def hidden(directory: dict[str, Any], roles: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_true("opting out", directory["status"], directory["status"] == 200, "200",
                         message=f"opting out answered {directory['status']}")
    listed = roles["ids"]["first"] in directory["ids"]
    evidence.expect_true("opted-out student", {"entry": directory["entry"], "listed": listed},
                         directory["entry"] == 404 and not listed, "entry 404, not listed",
                         message="the opted-out student is still in the directory")


@then("the directory still shows the second student")
def shown(directory: dict[str, Any], roles: dict[str, Any], evidence: Evidence) -> None:
    listed = roles["ids"]["second"] in directory["ids"]
    evidence.expect_true("student who did not opt out", {"entry": directory["other"], "listed": listed},
                         directory["other"] == 200 and listed, "entry 200, listed",
                         message="the directory hides a student who did not opt out")

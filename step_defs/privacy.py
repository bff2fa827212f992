"""FERPA and GDPR on the live system, with the suite's own fixture students (DATA-01..06)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import requests
from pytest_bdd import given, then, when

from edupro_verify.evidence import Evidence
from edupro_verify.probes import logs
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.probes.http import Api
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .common import Tokens

MARKERS = ("name", "student_no")


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
    evidence.measure("students", seen, "own record only")
    assert allowed(matrix, "first", "first") and allowed(matrix, "second", "second"), "a student cannot read their own record"
    assert not allowed(matrix, "first", "second") and not allowed(matrix, "second", "first"), "a student reads another student's record"


@then("a teacher reads only their class's students")
def teacher_rule(matrix: dict[tuple[str, str], Any], evidence: Evidence) -> None:
    evidence.measure("teacher", {s: matrix[("teacher", s)].status_code for s in ("first", "second")}, "first only")
    assert allowed(matrix, "teacher", "first"), "a teacher cannot read a student of their class"
    assert not allowed(matrix, "teacher", "second"), "a teacher reads a student outside their classes"


@then("an administrator reads every student")
def admin_rule(matrix: dict[tuple[str, str], Any]) -> None:
    assert allowed(matrix, "admin", "first") and allowed(matrix, "admin", "second"), "an administrator cannot read every student"


@then("no refused answer contains the other student's data")
def no_leak(matrix: dict[tuple[str, str], Any], roles: dict[str, Any], api: Api) -> None:
    names = {whose: api.get(f"/api/v1/students/{sid}", roles["people"]["admin"].token).json()["name"]
             for whose, sid in roles["ids"].items()}
    leaks = [f"{w}->{s}" for (w, s), r in matrix.items() if r.status_code != 200 and names[s] in r.text]
    assert not leaks, f"refused answers carry the student's name: {', '.join(leaks)}"


def disclosures(target: Target, student_id: int) -> list[tuple[Any, ...]]:
    with target.connect_db() as conn:
        return list(conn.execute("""SELECT actor_user_id, actor_role, record, purpose, disclosed_at FROM disclosures
                                    WHERE student_id = %s ORDER BY id""", (student_id,)))


@when("the teacher reads a student's record once", target_fixture="disclosed")
def teacher_reads(roles: dict[str, Any], api: Api, target: Target) -> dict[str, Any]:
    sid = roles["ids"]["first"]
    before = disclosures(target, sid)
    response = api.get(f"/api/v1/students/{sid}", roles["people"]["teacher"].token)
    after = disclosures(target, sid)
    return {"before": len(before), "after": after, "status": response.status_code}


@then("exactly one disclosure is recorded with who, what, when and why")
def one_entry(disclosed: dict[str, Any], api: Api, roles: dict[str, Any], evidence: Evidence) -> None:
    added = len(disclosed["after"]) - disclosed["before"]
    evidence.measure("disclosures added by one read", added, 1)
    assert disclosed["status"] == 200, f"the teacher's read answered {disclosed['status']}"
    assert added == 1, f"one read added {added} disclosure entries"
    actor, role, record, purpose, when_ = disclosed["after"][-1]
    teacher_id = api.get("/api/v1/users/me", roles["people"]["teacher"].token).json()["id"]
    evidence.measure("entry", {"actor": actor, "role": role, "record": record, "purpose": purpose, "at": str(when_)})
    assert actor == teacher_id and role == "teacher" and record and purpose and when_, "the entry lacks who, what, when or why"


@then("the application's database role cannot alter or delete disclosures")
def append_only(target: Target, evidence: Evidence) -> None:
    app_role = str(target.database.get("app_role", "edupro_app"))
    with target.connect_db() as conn:
        rights = {p: conn.execute("SELECT has_table_privilege(%s, 'disclosures', %s)", (app_role, p)).fetchone()[0]
                  for p in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE")}
        guarded = conn.execute("""SELECT count(*) FROM pg_trigger WHERE tgrelid = 'disclosures'::regclass
                                  AND NOT tgisinternal AND tgenabled <> 'D'""").fetchone()[0]
    evidence.measure(f"{app_role} rights on disclosures", rights, "INSERT and SELECT only")
    evidence.measure("append-only triggers", guarded, ">= 1")
    assert rights["INSERT"] and rights["SELECT"], "the application cannot record or read disclosures"
    altering = [p for p in ("UPDATE", "DELETE", "TRUNCATE") if rights[p]]
    assert not altering, f"the application role may {', '.join(altering)} disclosures"
    assert guarded, "no enabled trigger keeps disclosures append-only"


@given("a fixture student with canary personal data", target_fixture="canary")
def canary(api: Api, tokens: Tokens, suite_data: Fixtures) -> dict[str, Any]:
    name = f"{suite_data.canary('Name')} Zzyzx"
    email = f"{suite_data.canary('mail').lower()}@synthetic.edupro.invalid"
    sid = suite_data.student(tokens["administrator"], api, name, email)
    person = suite_data.account("student", student_id=sid, label="canary")
    person.token = api.login(person.username, person.password)
    return {"id": sid, "values": [name, email, person.username], "person": person}


@when("the canary student's record is read, exported and predicted")
def exercise_canary(canary: dict[str, Any], api: Api, tokens: Tokens) -> None:
    sid, person = canary["id"], canary["person"]
    for response in (api.get("/api/v1/students/me", person.token), api.get(f"/api/v1/students/{sid}/export", person.token),
                     api.post("/api/v1/predictions", person.token, json={"student_id": sid}),
                     api.get(f"/api/v1/students/{sid}", tokens["administrator"])):
        assert response.status_code == 200, f"exercising the canary student failed with {response.status_code}"


@then("no log file contains the canary values")
def logs_clean(canary: dict[str, Any], target: Target, evidence: Evidence) -> None:
    files = logs.log_files(target)
    hits = [f"{f}: {v[:12]}…" for f in files for v in canary["values"]
            if target.host.run("grep -qF %s %s", v, f).rc == 0]
    outputs = logs.container_logs(target)
    hits += [f"{name}: {v[:12]}…" for name, text in outputs.items() for v in canary["values"] if v in text]
    evidence.measure("log files and container outputs searched", len(files) + len(outputs))
    evidence.measure("canary values found", hits, "none")
    assert files or outputs, "no log file and no container output found"
    assert not hits, f"personal data written to logs: {', '.join(hits)}"


@when("the first student exports their data", target_fixture="export")
def student_export(roles: dict[str, Any], api: Api) -> Any:
    return api.get(f"/api/v1/students/{roles['ids']['first']}/export", roles["people"]["first"].token)


@then("the export holds their record and its disclosures")
def export_complete(export: Any, roles: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("export", f"{export.status_code}, {len(export.content)} bytes", "200 with record and disclosures")
    assert export.status_code == 200, f"the export answered {export.status_code}"
    body = export.json()
    assert body["record"]["id"] == roles["ids"]["first"] and body["record"]["email"], "the export lacks the record"
    assert body["disclosures"], "the export does not list who has seen the record"


@when("an administrator erases the first student", target_fixture="erased")
def erase(roles: dict[str, Any], api: Api, target: Target) -> dict[str, Any]:
    sid = roles["ids"]["first"]
    with target.connect_db() as conn:
        before = conn.execute("SELECT count(*), sum(g3) FROM grades").fetchone()
    response = api.request("DELETE", f"/api/v1/students/{sid}", roles["people"]["admin"].token)
    with target.connect_db() as conn:
        after = conn.execute("SELECT count(*), sum(g3) FROM grades").fetchone()
        stored = conn.execute("SELECT name, email_enc, birth_date_enc FROM students WHERE id = %s", (sid,)).fetchone()
    record = api.get(f"/api/v1/students/{sid}", roles["people"]["admin"].token).json()
    return {"status": response.status_code, "before": before, "after": after, "stored": stored, "record": record,
            "old_name": "Ana Fixture"}


@then("the student's identifying data is gone from the API and the database")
def identity_gone(erased: dict[str, Any], evidence: Evidence) -> None:
    name, email, born = erased["stored"]
    evidence.measure("after erasure", {"api": {k: erased["record"].get(k) for k in ("name", "email", "birth_date")},
                                       "stored e-mail": email is not None, "stored birth date": born is not None})
    assert erased["status"] == 200, f"erasure answered {erased['status']}"
    assert erased["old_name"] not in name, "the name survived erasure"
    assert email is None and born is None, "the e-mail or date of birth survived erasure in the database"
    assert erased["record"].get("email") is None, "the API still returns the e-mail after erasure"


@then("the student's grades still count in the aggregates")
def aggregates_kept(erased: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("grades (count, sum of G3) before / after", [list(erased["before"]), list(erased["after"])], "equal")
    assert erased["before"] == erased["after"], "erasure changed the grade aggregates"


@when("the transport and storage of personal data are examined", target_fixture="protection")
def protection(target: Target, api: Api) -> dict[str, Any]:
    with target.connect_db() as conn:
        ssl_on = conn.execute("SHOW ssl").fetchone()[0] == "on"
        sample = conn.execute("SELECT email_enc, birth_date_enc FROM students WHERE email_enc IS NOT NULL LIMIT 20").fetchall()
        plain_columns = [r[0] for r in conn.execute("""SELECT column_name FROM information_schema.columns
            WHERE table_name = 'students' AND column_name IN ('email', 'birth_date', 'date_of_birth', 'dob')""")]
    db = target.database
    try:
        psycopg.connect(host=db["host"], port=db["port"], dbname=db["name"], user=db["user"],
                        password=target.secrets.database_password, sslmode="disable", connect_timeout=5).close()
        plain_allowed = True
    except psycopg.OperationalError:
        plain_allowed = False
    return {"ssl_on": ssl_on, "plain_allowed": plain_allowed, "sample": sample, "plain_columns": plain_columns}


@then("clients reach the API only over TLS")
def clients_tls(target: Target, evidence: Evidence) -> None:
    evidence.measure("public base URL", target.base_url, "https://")
    assert target.base_url.startswith("https://"), "the public endpoint is not HTTPS"
    if target.http_url:
        r = requests.get(f"{target.http_url}/api/v1/students/me", allow_redirects=False, timeout=5)
        evidence.measure("plain HTTP answer", r.status_code, "redirect without content")
        assert r.status_code in (301, 308) and "student" not in r.text, "the API answers over plain HTTP"


@then("database connections are encrypted where the profile requires it")
def database_tls(protection: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    required = profile.threshold("DATA-05", "database_tls_required")
    evidence.measure("database", {"ssl": protection["ssl_on"], "accepts unencrypted": protection["plain_allowed"]},
                     "TLS required" if required else "TLS available")
    assert protection["ssl_on"], "the database server does not offer TLS"
    if required:
        assert not protection["plain_allowed"], "the database accepts unencrypted connections"


@then("e-mail addresses and dates of birth are not stored in plain text")
def at_rest(protection: dict[str, Any], evidence: Evidence) -> None:
    readable = [bytes(v) for row in protection["sample"] for v in row if v is not None
                and (b"@" in bytes(v) or bytes(v)[:2].isdigit())]
    evidence.measure("plain-text columns", protection["plain_columns"], "none")
    evidence.measure("sampled sealed values readable", len(readable), 0)
    assert protection["sample"], "no stored e-mail to examine"
    assert not protection["plain_columns"], f"plain-text personal columns: {protection['plain_columns']}"
    assert not readable, "e-mail addresses or dates of birth are stored readable"


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
    evidence.measure("opted-out student", {"opt-out": directory["status"], "entry": directory["entry"],
                                           "listed": roles["ids"]["first"] in directory["ids"]}, "200, 404, not listed")
    assert directory["status"] == 200, f"opting out answered {directory['status']}"
    assert directory["entry"] == 404 and roles["ids"]["first"] not in directory["ids"], "the opted-out student is still in the directory"


@then("the directory still shows the second student")
def shown(directory: dict[str, Any], roles: dict[str, Any]) -> None:
    assert directory["other"] == 200 and roles["ids"]["second"] in directory["ids"], "the directory hides a student who did not opt out"

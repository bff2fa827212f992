"""The EduPro API against real PostgreSQL and Redis: roles, the audit trail, tokens, limits, input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest

from .conftest import Client


def owner_connection(stack: dict[str, Any]) -> psycopg.Connection:
    secrets = json.loads(Path(stack["paths"]["secrets"]).read_text())
    db = stack["database"]
    return psycopg.connect(host=db["host"], port=db["port"], dbname=db["name"], user=db["owner_role"],
                           password=secrets["owner_password"], autocommit=True)


def test_health_reports_database_and_cache(client: Client) -> None:
    assert client.call("GET", "/health").json() == {"status": "healthy", "database": "ok", "cache": "ok"}


@pytest.mark.parametrize("role, student, allowed", [
    ("student", 1, True), ("student", 2, False),
    ("teacher", 1, True), ("teacher", 2, False),  # student 2 is in GP-Math-B, not the demo teacher's class
    ("administrator", 1, True), ("administrator", 2, True),
])
def test_ferpa_access_matrix(client: Client, token: dict[str, str], role: str, student: int, allowed: bool) -> None:
    response = client.call("GET", f"/api/v1/students/{student}", token[role])
    assert (response.status_code == 200) == allowed
    if not allowed:
        assert response.status_code in (403, 404) and "grades" not in response.text


def test_every_read_adds_exactly_one_disclosure(client: Client, token: dict[str, str], stack: dict[str, Any]) -> None:
    with owner_connection(stack) as conn:
        before = conn.execute("SELECT count(*) FROM disclosures WHERE student_id = 1").fetchone()[0]
        client.call("GET", "/api/v1/students/1", token["teacher"], headers={"X-Disclosure-Purpose": "test"})
        rows = conn.execute("SELECT actor_role, purpose FROM disclosures WHERE student_id = 1 ORDER BY id").fetchall()
    assert len(rows) == before + 1
    assert rows[-1] == ("teacher", "test")


def test_disclosures_cannot_be_rewritten_even_by_the_owner(stack: dict[str, Any]) -> None:
    with owner_connection(stack) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE disclosures SET purpose = 'rewritten'")


def test_forged_expired_and_none_tokens_are_refused(client: Client, token: dict[str, str], stack: dict[str, Any]) -> None:
    secret = json.loads(Path(stack["paths"]["secrets"]).read_text())["jwt_secret"]
    now = datetime.now(UTC)
    claims = {"sub": "1", "role": "administrator", "iat": now, "exp": now + timedelta(minutes=5)}
    bad = [jwt.encode(claims, "x" * 40, algorithm="HS256"), jwt.encode(claims, None, algorithm="none"),
           jwt.encode({**claims, "exp": now - timedelta(minutes=1)}, secret, algorithm="HS256")]
    for forged in bad:
        assert client.call("GET", "/api/v1/admin/settings", forged).status_code == 401
    assert client.call("GET", "/api/v1/admin/settings", token["administrator"]).status_code == 200


def test_unknown_user_and_wrong_password_get_the_same_answer(client: Client, accounts: dict[str, dict[str, str]]) -> None:
    wrong = client.call("POST", "/api/v1/login/access-token", data={"username": accounts["student"]["username"], "password": "nope"})
    unknown = client.call("POST", "/api/v1/login/access-token", data={"username": "nobody-at-all", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_rate_limit_answers_429_with_retry_after(client: Client, accounts: dict[str, dict[str, str]]) -> None:
    fresh = client.login(accounts["teacher"])
    codes = [client.call("GET", "/api/v1/users/me", fresh).status_code for _ in range(61)]
    assert codes[:60].count(200) >= 55  # the teacher token may have spent a few in this minute
    last = client.call("GET", "/api/v1/users/me", fresh)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1


def test_prediction_and_invalid_input(client: Client, token: dict[str, str]) -> None:
    good = client.call("POST", "/api/v1/predictions", token["student"], json={"student_id": 1})
    assert good.status_code == 200 and good.json()["model_version"] == "1.0.0"
    assert client.call("POST", "/api/v1/predictions", token["student"], json={"student_id": 1, "extra": 1}).status_code == 422
    assert client.call("POST", "/api/v1/predictions", token["student"], json={}).status_code == 422


def test_sensitive_columns_are_sealed_at_rest(stack: dict[str, Any]) -> None:
    with owner_connection(stack) as conn:
        email, born = conn.execute("SELECT email_enc, birth_date_enc FROM students WHERE id = 1").fetchone()
    assert b"@" not in bytes(email) and not bytes(born)[:4].isdigit()


def test_logs_are_json_without_personal_data(client: Client, token: dict[str, str], stack: dict[str, Any]) -> None:
    record = client.call("GET", "/api/v1/students/me", token["student"]).json()
    logs = Path(stack["paths"]["logs"])
    text = "".join(p.read_text(errors="replace") for p in logs.glob("backend-*.log"))
    assert record["name"] not in text and record["email"] not in text
    for line in (logs / f"backend-{stack['live_colour']}-1.log").read_text().splitlines()[-20:]:
        json.loads(line)

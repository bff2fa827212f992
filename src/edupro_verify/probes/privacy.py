"""Personal data as the database keeps it: the record of disclosures, its guards, encryption at rest, erasure
(DATA-02, DATA-04, DATA-05)."""

from __future__ import annotations

from typing import Any

import psycopg

from ..targets import Target


def disclosures(target: Target, student_id: int) -> list[tuple[Any, ...]]:
    """(actor_user_id, actor_role, record, purpose, disclosed_at) of every disclosure of a student, oldest first."""
    with target.connect_db() as conn:
        return list(conn.execute("""SELECT actor_user_id, actor_role, record, purpose, disclosed_at FROM disclosures
                                    WHERE student_id = %s ORDER BY id""", (student_id,)))


def disclosure_guards(target: Target, role: str) -> tuple[dict[str, bool], int]:
    """ROLE's privileges on the disclosures table, and how many enabled user triggers guard it."""
    with target.connect_db() as conn:
        rights = {p: conn.execute("SELECT has_table_privilege(%s, 'disclosures', %s)", (role, p)).fetchone()[0]
                  for p in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE")}
        guarded = conn.execute("""SELECT count(*) FROM pg_trigger WHERE tgrelid = 'disclosures'::regclass
                                  AND NOT tgisinternal AND tgenabled <> 'D'""").fetchone()[0]
    return rights, int(guarded)


def grade_aggregates(target: Target) -> list[Any]:
    with target.connect_db() as conn:
        return list(conn.execute("SELECT count(*), sum(g3) FROM grades").fetchone())


def stored_identity(target: Target, student_id: int) -> tuple[Any, ...]:
    """(name, email_enc, birth_date_enc) as stored for a student."""
    with target.connect_db() as conn:
        return tuple(conn.execute("SELECT name, email_enc, birth_date_enc FROM students WHERE id = %s",
                                  (student_id,)).fetchone())


def storage_protection(target: Target) -> dict[str, Any]:
    """Does the server offer TLS, does it accept an unencrypted connection, a sample of the sealed columns and any
    plain-text personal column."""
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


def readable_values(sample: list[tuple[Any, ...]]) -> list[bytes]:
    """Stored values that look like an e-mail address or a date rather than a ciphertext."""
    return [bytes(v) for row in sample for v in row if v is not None and (b"@" in bytes(v) or bytes(v)[:2].isdigit())]

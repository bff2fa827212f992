"""Personal data as the database keeps it: the record of disclosures, its guards, encryption at rest, erasure
(DATA-02, DATA-04, DATA-05)."""

from __future__ import annotations

import base64
import binascii
import re
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken
from psycopg import sql

from ..errors import ProbeError
from ..targets import Target

# A Fernet token (https://github.com/fernet/spec): version 0x80, 8-byte timestamp, 16-byte IV, AES-CBC ciphertext
# in 16-byte blocks, 32-byte HMAC-SHA256; base64url-encoded.
FERNET_VERSION, FERNET_OVERHEAD, BLOCK = 0x80, 1 + 8 + 16 + 32, 16


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


REWRITES = {"UPDATE": "UPDATE disclosures SET purpose = purpose WHERE id = (SELECT max(id) FROM disclosures)",
            "DELETE": "DELETE FROM disclosures WHERE id = (SELECT max(id) FROM disclosures)",
            "TRUNCATE": "TRUNCATE disclosures"}


def try_rewrites(target: Target, as_application: bool) -> dict[str, str]:
    """UPDATE, DELETE and TRUNCATE of the newest disclosure tried for real, each in its own savepoint of one
    transaction that is always rolled back: operation -> "refused: <the server's words>" or "done: N rows".
    The application role must be refused by its privileges; the suite's own (owner) role by the trigger."""
    outcome: dict[str, str] = {}
    with target.connect_db(as_application=as_application, autocommit=False) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL lock_timeout = '3s'")
            conn.execute("SET LOCAL statement_timeout = '10s'")
            for operation, statement in REWRITES.items():
                try:
                    with conn.transaction():
                        rows = conn.execute(statement).rowcount
                    outcome[operation] = f"done: {rows} rows" if rows >= 0 else "done: the whole table"
                except psycopg.Error as error:
                    outcome[operation] = f"refused: {error.diag.message_primary or 'an error'}"
        conn.rollback()
    return outcome


def grade_aggregates(target: Target) -> list[Any]:
    with target.connect_db() as conn:
        return list(conn.execute("SELECT count(*), sum(g3) FROM grades").fetchone())


def stored_identity(target: Target, student_id: int) -> tuple[Any, ...]:
    """(name, email_enc, birth_date_enc) as stored for a student."""
    with target.connect_db() as conn:
        return tuple(conn.execute("SELECT name, email_enc, birth_date_enc FROM students WHERE id = %s",
                                  (student_id,)).fetchone())


def storage_protection(target: Target) -> dict[str, Any]:
    """Does the server offer TLS, does it accept an unencrypted connection, and any plain-text personal column."""
    with target.connect_db() as conn:
        ssl_on = conn.execute("SHOW ssl").fetchone()[0] == "on"
        plain_columns = [r[0] for r in conn.execute("""SELECT column_name FROM information_schema.columns
            WHERE table_name = 'students' AND column_name IN ('email', 'birth_date', 'date_of_birth', 'dob')""")]
    db = target.database
    try:
        psycopg.connect(host=db["host"], port=db["port"], dbname=db["name"], user=db["user"],
                        password=target.secrets.database_password, sslmode="disable", connect_timeout=5).close()
        plain_allowed = True
    except psycopg.OperationalError:
        plain_allowed = False
    return {"ssl_on": ssl_on, "plain_allowed": plain_allowed, "plain_columns": plain_columns,
            "between_tiers": plain_between_tiers(target)}


def plain_between_tiers(target: Target) -> dict[str, bool]:
    """On servers of their own: from each application server, does the data server take an unencrypted connection
    of the application's role as far as asking for its password? (A server that requires TLS refuses it first, "no
    encryption"; no password is sent.) application server -> True when it does."""
    if not all(target.tier_addresses(t) for t in ("app", "data")):
        return {}
    data = target.tier_addresses("data")[0]
    port = next((p for name, s in target.inventory.known().items() if name == "database" for _, p in s.addresses),
                5432)
    found = {}
    for label, host in target.tier("app").items():
        attempt = host.run(f"PGCONNECT_TIMEOUT=5 psql -w 'host={data} port={port} dbname={target.database['name']} "
                           f"user={target.app_role} sslmode=disable' -c 'SELECT 1'")
        said = attempt.stdout + attempt.stderr
        if "no encryption" not in said and "password" not in said:
            raise ProbeError(f"{label}: an unencrypted connection to the data server {data}:{port} neither was "
                             f"refused for TLS nor asked for a password: {said.strip()[-160:]}")
        found[f"{label.split(' ', 1)[-1]} -> {data}:{port}"] = "password" in said and "no encryption" not in said
    return found


def sealed_values(target: Target, columns: dict[str, list[str]]) -> list[tuple[str, int, bytes]]:
    """Every stored value of the protected columns ({table: [column]}): (table.column, row id, bytes)."""
    found: list[tuple[str, int, bytes]] = []
    with target.connect_db() as conn:
        for table, names in columns.items():
            for column in names:
                query = sql.SQL("SELECT id, {c} FROM {t} WHERE {c} IS NOT NULL ORDER BY id").format(
                    c=sql.Identifier(column), t=sql.Identifier(table))
                found += [(f"{table}.{column}", int(row_id), bytes(value)) for row_id, value in conn.execute(query)]
    return found


def fernet_problem(token: bytes, key: str | None, now: datetime | None = None) -> str | None:
    """Why TOKEN is not a well-formed Fernet ciphertext (or, with KEY, not one sealed with it); None when it is."""
    if re.fullmatch(rb"(?:[0-9a-fA-F]{2})+", token):
        return "hex-encoded, not sealed with the declared cipher (Fernet): anyone can decode it"
    if not re.fullmatch(rb"[A-Za-z0-9_-]+=*", token):
        return "stored as readable text, not sealed (not base64url, as every Fernet token is)"
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return "not base64url (its padding is wrong), so not a Fernet token"
    if not raw or raw[0] != FERNET_VERSION:
        return "base64url-encoded without Fernet's version byte (0x80): an encoding anyone can decode, not the declared cipher"
    if len(raw) < FERNET_OVERHEAD + BLOCK or (len(raw) - FERNET_OVERHEAD) % BLOCK:
        return f"{len(raw)} bytes: not a Fernet length (57 + a multiple of 16)"
    seconds = struct.unpack(">Q", raw[1:9])[0]
    if seconds > ((now or datetime.now(UTC)) + timedelta(days=1)).timestamp():
        return f"timestamp {seconds} is in the future"
    if key:
        try:
            Fernet(key.encode()).decrypt(token)
        except InvalidToken:
            return "not sealed with the declared key (HMAC does not verify)"
    return None

"""Migration and data integrity, on scratch copies only (DB-01..08)."""

from __future__ import annotations

import json
from typing import Any

from pytest_bdd import when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import database as db
from edupro_verify.probes import records
from edupro_verify.probes.fixtures import OWN_ROWS
from edupro_verify.spec import Profile
from edupro_verify.steps import then
from edupro_verify.targets import Target

from .common import data_volume


@when("the newest backup is restored into a scratch database", target_fixture="restored")
def restore_newest(target: Target) -> dict[str, Any]:
    name, dump = records.newest_backup(target)
    with db.Scratch(target) as scratch:
        seconds = scratch.restore(dump)
        with scratch.connect() as conn:
            tables = db.public_tables(conn)
    with target.connect_db() as conn:
        live = db.public_tables(conn)
    return {"name": name, "seconds": seconds, "tables": tables, "live_tables": live, "bytes": len(dump)}


@then("its name follows edupro_backup_YYYYmmdd_HHMMSS")
def backup_named(restored: dict[str, Any], evidence: Evidence) -> None:
    named = bool(records.BACKUP_NAME.match(restored["name"]))
    evidence.expect_true("newest backup", restored["name"], named, "edupro_backup_YYYYmmdd_HHMMSS.sql",
                         message=f"the backup {restored['name']} is not named by its timestamp")


@then("it restores without error and holds every table")
def backup_complete(restored: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("restore time", round(restored["seconds"], 2), unit="s")
    evidence.record("tables restored", len(restored["tables"]))
    missing = sorted(restored["live_tables"] - restored["tables"])
    evidence.expect_none("live tables missing from the backup", missing,
                         message=f"the backup lacks table(s): {', '.join(missing)}")


@when("the database size and the free space of its volume are measured", target_fixture="space")
def space(target: Target) -> dict[str, int]:
    with target.connect_db() as conn:
        size = db.database_size(conn)
    return {"database": size, "free": data_volume(target).free_bytes}


@then("the free space is at least the required multiple of the database size")
def room(space: dict[str, int], evidence: Evidence) -> None:
    evidence.record("free space", round(space["free"] / 1e6), unit="MB")
    evidence.record("database size", round(space["database"] / 1e6, 1), unit="MB")
    evidence.expect("free space / database size", space["free"] / max(space["database"], 1), "free_space_factor")


@when("the live schema is read", target_fixture="schema")
def live_schema(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:
        return {"revision": db.revision(conn), "snapshot": db.schema_snapshot(conn)}


@then("the schema revision is the expected one")
def at_revision(schema: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect("schema revision", schema["revision"], "expected_revision")


@then("the live schema matches the expected schema of that revision")
def no_drift(schema: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    expected_file = profile.specs / "schema" / f"{profile.threshold('DB-03', 'expected_revision')}.json"
    if not expected_file.exists():
        raise ProbeError(f"{expected_file} is missing; record it with: edupro-verify schema-snapshot")
    drift = db.schema_drift(json.loads(expected_file.read_text()), schema["snapshot"])
    evidence.expect_none("schema drift", drift, message=f"schema drift: {'; '.join(drift[:5])}")


@when("the protected tables are compared with the backup taken before the migration", target_fixture="integrity")
def compare_with_backup(target: Target, profile: Profile) -> dict[str, Any]:
    tables = profile.threshold("DB-04", "protected_tables")
    name = records.baseline_backup(target)
    dump = records.backup(target, name)
    with db.Scratch(target) as scratch:
        scratch.restore(dump)
        with scratch.connect() as conn:
            before = {t: db.table_fingerprint(conn, t, OWN_ROWS.get(t)) for t in tables}
    with target.connect_db() as conn:
        after = {t: db.table_fingerprint(conn, t, OWN_ROWS.get(t)) for t in tables}
        orphans, invalid = db.orphaned_foreign_keys(conn), db.invalid_constraints(conn)
    return {"backup": name, "before": before, "after": after, "orphans": orphans, "invalid": invalid}


@then("their row counts and checksums are unchanged")
def unchanged(integrity: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("rows per protected table", {t: {"backup": integrity["before"][t]["rows"], "live": integrity["after"][t]["rows"]}
                                                 for t in integrity["after"]}, source=integrity["backup"])
    changed = [t for t in integrity["after"] if integrity["before"][t] != integrity["after"][t]]
    evidence.expect_none("protected tables changed", changed,
                         message=f"protected table(s) changed since the pre-migration backup: {', '.join(changed)}")


@then("no foreign key is orphaned and every constraint is validated")
def referential(integrity: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_none("orphaned foreign keys", integrity["orphans"], message="; ".join(integrity["orphans"]))
    evidence.expect_none("constraints not validated", integrity["invalid"],
                         message=f"constraints not validated: {', '.join(integrity['invalid'])}")


@when("a scratch copy is downgraded one revision and upgraded again", target_fixture="round_trip")
def round_trip(target: Target, profile: Profile) -> dict[str, Any]:
    name, dump = records.newest_backup(target)
    tables = profile.threshold("DB-04", "protected_tables")
    with db.Scratch(target) as scratch:
        scratch.restore(dump)
        with scratch.connect() as conn:
            before = {t: db.table_fingerprint(conn, t) for t in tables}
            start = db.revision(conn)
        scratch.alembic(target.path("migrations"), "downgrade", "-1")
        with scratch.connect() as conn:
            middle = db.revision(conn)
        scratch.alembic(target.path("migrations"), "upgrade", "head")
        with scratch.connect() as conn:
            after = {t: db.table_fingerprint(conn, t) for t in tables}
            end = db.revision(conn)
    return {"backup": name, "revisions": [start, middle, end], "before": before, "after": after}


@then("the copy is back at the expected revision")
def back_at_head(round_trip: dict[str, Any], evidence: Evidence) -> None:
    start, middle, end = round_trip["revisions"]
    evidence.expect_true("revision after the downgrade", middle, middle != start, f"not {start}",
                         message="the downgrade did not change the revision")
    evidence.expect("revision after the upgrade", end, "expected_revision", requirement="DB-03")


@then("every protected table has the same rows as before the round trip")
def no_loss(round_trip: dict[str, Any], evidence: Evidence) -> None:
    changed = [t for t in round_trip["before"] if round_trip["before"][t] != round_trip["after"][t]]
    evidence.expect_none("tables changed by the round trip", changed,
                         message=f"the round trip lost or changed rows in: {', '.join(changed)}")


@when("the database catalog is read", target_fixture="catalog")
def catalog(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:
        return {"stale": db.stale_statistics(conn), "indexes": db.index_names(conn)}


@then("every table with rows has been analysed")
def analysed(catalog: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect_none("tables never analysed", catalog["stale"],
                         message=f"tables never analysed: {', '.join(catalog['stale'])}")


@then("every required index exists")
def indexes(catalog: dict[str, Any], evidence: Evidence) -> None:
    evidence.expect("indexes", catalog["indexes"], "required_indexes")


@when("the newest migration record is read", target_fixture="migration")
def migration_record(target: Target) -> dict[str, Any]:
    migrations = [r for r in records.history(target) if r.get("action") == "migration"]
    if not migrations:
        raise AssertionError("the deployment history records no migration")
    return migrations[-1]


@then("it records start, end, duration, each phase and its outcome")
def migration_fields(migration: dict[str, Any], evidence: Evidence) -> None:
    evidence.record("migration record", migration)
    missing = [k for k in ("started", "finished", "duration_seconds", "phases", "outcome") if k not in migration]
    evidence.expect_none("fields missing from the migration record", missing,
                         message=f"the migration record lacks: {', '.join(missing)}")
    evidence.expect_true("phases recorded", len(migration["phases"]), bool(migration["phases"]), "at least one",
                         message="the migration record lists no phases")


@then("it succeeded at the expected revision without requiring a rollback")
def migration_succeeded(migration: dict[str, Any], evidence: Evidence) -> None:
    outcome = migration.get("outcome", "recorded no outcome")
    evidence.expect_true("outcome", outcome, outcome == "succeeded", "succeeded",
                         message=f"the newest migration {outcome}: {migration.get('error')}")
    rollback = bool(migration.get("rollback_required"))
    evidence.expect_true("rollback required", rollback, not rollback, "no",
                         message="the newest migration requires a rollback")
    evidence.expect("revision reached", migration.get("revision"), "expected_revision", requirement="DB-03")


@when("the database server's settings are read", target_fixture="server")
def server_settings(target: Target) -> dict[str, str]:
    with target.connect_db() as conn:
        found = db.settings(conn)
        found["database_encoding"] = db.database_encoding(conn, str(target.database["name"]))
    return found


@then("the encoding is UTF-8 and the time zone UTC")
def utf8_utc(server: dict[str, str], evidence: Evidence) -> None:
    evidence.expect("server encoding", server["server_encoding"], "encoding")
    evidence.expect("database encoding", server["database_encoding"], "encoding")
    evidence.expect("time zone", [server["TimeZone"]], "timezone")

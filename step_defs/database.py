"""Migration and data integrity, on scratch copies only (DB-01..08)."""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_bdd import then, when

from edupro_verify.errors import ProbeError
from edupro_verify.evidence import Evidence
from edupro_verify.probes import database as db
from edupro_verify.probes import host as host_probe
from edupro_verify.spec import Profile
from edupro_verify.targets import Target

from .host import data_volume

BACKUP_NAME = re.compile(r"^edupro_backup_(\d{8}_\d{6})\.sql$")


def backups(target: Target) -> list[str]:
    """Backup file names in the backup folder, oldest first."""
    folder = str(target.path("backups"))
    names = host_probe.run(target.host, "ls -1 %s", folder).split()
    return sorted(n for n in names if n.startswith("edupro_backup_"))


def newest_backup(target: Target) -> tuple[str, bytes]:
    names = backups(target)
    if not names:
        raise AssertionError(f"there is no backup in {target.path('backups')}")
    name = names[-1]
    return name, target.host.file(f"{target.path('backups')}/{name}").content


def history(target: Target) -> list[dict[str, Any]]:
    file = target.host.file(str(target.path("deployment_history")))
    if not file.exists:
        raise AssertionError(f"there is no deployment history at {file.path}")
    return [json.loads(line) for line in file.content_string.splitlines() if line.strip()]


@when("the newest backup is restored into a scratch database", target_fixture="restored")
def restore_newest(target: Target) -> dict[str, Any]:
    name, dump = newest_backup(target)
    with db.Scratch(target) as scratch:
        seconds = scratch.restore(dump)
        with scratch.connect() as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    with target.connect_db() as conn:
        live = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    return {"name": name, "seconds": seconds, "tables": tables, "live_tables": live, "bytes": len(dump)}


@then("its name follows edupro_backup_YYYYmmdd_HHMMSS")
def backup_named(restored: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("newest backup", restored["name"], "edupro_backup_YYYYmmdd_HHMMSS.sql")
    assert BACKUP_NAME.match(restored["name"]), f"the backup {restored['name']} is not named by its timestamp"


@then("it restores without error and holds every table")
def backup_complete(restored: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("restore", f"{restored['seconds']:.2f} s, {len(restored['tables'])} tables")
    missing = sorted(restored["live_tables"] - restored["tables"])
    assert not missing, f"the backup lacks table(s): {', '.join(missing)}"


@when("the database size and the free space of its volume are measured", target_fixture="space")
def space(target: Target) -> dict[str, int]:
    with target.connect_db() as conn:
        size = db.database_size(conn)
    return {"database": size, "free": data_volume(target).free_bytes}


@then("the free space is at least the required multiple of the database size")
def room(space: dict[str, int], profile: Profile, evidence: Evidence) -> None:
    factor = float(profile.threshold("DB-02", "free_space_factor"))
    evidence.measure("free / database", f"{space['free'] / 1e6:.0f} MB / {space['database'] / 1e6:.1f} MB",
                     f">= {factor} x")
    assert space["free"] >= factor * space["database"], (
        f"{space['free'] / 1e6:.0f} MB free is less than {factor} x the database's {space['database'] / 1e6:.0f} MB")


@when("the live schema is read", target_fixture="schema")
def live_schema(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:
        return {"revision": db.revision(conn), "snapshot": db.schema_snapshot(conn)}


@then("the schema revision is the expected one")
def at_revision(schema: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want = profile.threshold("DB-03", "expected_revision")
    evidence.measure("schema revision", schema["revision"], want)
    assert schema["revision"] == want, f"the schema is at {schema['revision']}, expected {want}"


@then("the live schema matches the expected schema of that revision")
def no_drift(schema: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    expected_file = profile.specs / "schema" / f"{profile.threshold('DB-03', 'expected_revision')}.json"
    if not expected_file.exists():
        raise ProbeError(f"{expected_file} is missing; record it with: edupro-verify schema-snapshot")
    drift = db.schema_drift(json.loads(expected_file.read_text()), schema["snapshot"])
    evidence.measure("schema drift", drift, "none")
    assert not drift, f"schema drift: {'; '.join(drift[:5])}"


def baseline_backup(target: Target) -> str:
    """The backup taken before the newest migration (its backup phase); after a migration that created the
    database (no backup phase: nothing existed to protect), the new database's first backup; else the newest."""
    names = [n for n in backups(target) if BACKUP_NAME.match(n)]
    migrations = [r for r in history(target) if r.get("action") == "migration" and r.get("outcome") == "succeeded"]
    if migrations:
        newest = migrations[-1]
        stamp = re.sub(r"[-:]", "", newest["started"])[:15].replace("T", "_")
        taken_first = any(p.get("phase") == "backup" for p in newest.get("phases", []))
        before = [n for n in names if BACKUP_NAME.match(n).group(1) <= stamp]  # type: ignore[union-attr]
        after = [n for n in names if BACKUP_NAME.match(n).group(1) > stamp]  # type: ignore[union-attr]
        if taken_first and before:
            return before[-1]
        if not taken_first and after:
            return after[0]
    if not names:
        raise AssertionError(f"there is no backup in {target.path('backups')}")
    return names[-1]


@when("the protected tables are compared with the backup taken before the migration", target_fixture="integrity")
def compare_with_backup(target: Target, profile: Profile) -> dict[str, Any]:
    tables = profile.threshold("DB-04", "protected_tables")
    name = baseline_backup(target)
    dump = target.host.file(f"{target.path('backups')}/{name}").content
    with db.Scratch(target) as scratch:
        scratch.restore(dump)
        with scratch.connect() as conn:
            before = {t: db.table_fingerprint(conn, t) for t in tables}
    with target.connect_db() as conn:
        after = {t: db.table_fingerprint(conn, t) for t in tables}
        orphans, invalid = db.orphaned_foreign_keys(conn), db.invalid_constraints(conn)
    return {"backup": name, "before": before, "after": after, "orphans": orphans, "invalid": invalid}


@then("their row counts and checksums are unchanged")
def unchanged(integrity: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure(f"protected tables (backup {integrity['backup']} -> live)",
                     {t: f"{integrity['before'][t]['rows']} -> {integrity['after'][t]['rows']}" for t in integrity["after"]})
    changed = [t for t in integrity["after"] if integrity["before"][t] != integrity["after"][t]]
    assert not changed, f"protected table(s) changed since the pre-migration backup: {', '.join(changed)}"


@then("no foreign key is orphaned and every constraint is validated")
def referential(integrity: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("orphaned foreign keys", integrity["orphans"], "none")
    evidence.measure("constraints not validated", integrity["invalid"], "none")
    assert not integrity["orphans"], "; ".join(integrity["orphans"])
    assert not integrity["invalid"], f"constraints not validated: {', '.join(integrity['invalid'])}"


@when("a scratch copy is downgraded one revision and upgraded again", target_fixture="round_trip")
def round_trip(target: Target, profile: Profile) -> dict[str, Any]:
    name, dump = newest_backup(target)
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
def back_at_head(round_trip: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    want = profile.threshold("DB-03", "expected_revision")
    evidence.measure("revisions (start, downgraded, upgraded)", round_trip["revisions"], f"ends at {want}")
    assert round_trip["revisions"][1] != round_trip["revisions"][0], "the downgrade did not change the revision"
    assert round_trip["revisions"][2] == want, f"after the round trip the copy is at {round_trip['revisions'][2]}"


@then("every protected table has the same rows as before the round trip")
def no_loss(round_trip: dict[str, Any], evidence: Evidence) -> None:
    changed = [t for t in round_trip["before"] if round_trip["before"][t] != round_trip["after"][t]]
    evidence.measure("tables changed by the round trip", changed, "none")
    assert not changed, f"the round trip lost or changed rows in: {', '.join(changed)}"


@when("the database catalog is read", target_fixture="catalog")
def catalog(target: Target) -> dict[str, Any]:
    with target.connect_db() as conn:
        return {"stale": db.stale_statistics(conn), "indexes": db.index_names(conn)}


@then("every table with rows has been analysed")
def analysed(catalog: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("tables never analysed", catalog["stale"], "none")
    assert not catalog["stale"], f"tables never analysed: {', '.join(catalog['stale'])}"


@then("every required index exists")
def indexes(catalog: dict[str, Any], profile: Profile, evidence: Evidence) -> None:
    missing = sorted(set(profile.threshold("DB-06", "required_indexes")) - catalog["indexes"])
    evidence.measure("missing indexes", missing, "none")
    assert not missing, f"required index(es) missing: {', '.join(missing)}"


@when("the newest migration record is read", target_fixture="migration")
def migration_record(target: Target) -> dict[str, Any]:
    records = [r for r in history(target) if r.get("action") == "migration"]
    if not records:
        raise AssertionError("the deployment history records no migration")
    return records[-1]


@then("it records start, end, duration, each phase and its outcome")
def migration_fields(migration: dict[str, Any], evidence: Evidence) -> None:
    evidence.measure("migration record", migration)
    missing = [k for k in ("started", "finished", "duration_seconds", "phases", "outcome") if k not in migration]
    assert not missing, f"the migration record lacks: {', '.join(missing)}"
    assert migration["phases"], "the migration record lists no phases"


@then("it succeeded at the expected revision without requiring a rollback")
def migration_succeeded(migration: dict[str, Any], profile: Profile) -> None:
    assert migration["outcome"] == "succeeded", f"the newest migration {migration['outcome']}: {migration.get('error')}"
    assert not migration.get("rollback_required"), "the newest migration requires a rollback"
    want = profile.threshold("DB-03", "expected_revision")
    assert migration.get("revision") == want, f"the migration reached {migration.get('revision')}, not {want}"


@when("the database server's settings are read", target_fixture="server")
def server_settings(target: Target) -> dict[str, str]:
    with target.connect_db() as conn:
        found = db.settings(conn)
        found["database_encoding"] = db.database_encoding(conn, str(target.database["name"]))
    return found


@then("the encoding is UTF-8 and the time zone UTC")
def utf8_utc(server: dict[str, str], profile: Profile, evidence: Evidence) -> None:
    want_enc, want_tz = profile.threshold("DB-08", "encoding"), profile.threshold("DB-08", "timezone")
    have = {"server": server["server_encoding"], "database": server["database_encoding"], "timezone": server["TimeZone"]}
    evidence.measure("encoding / time zone", have, f"{want_enc} / {want_tz}")
    assert have["server"] == want_enc and have["database"] == want_enc, f"encoding is {have}, not {want_enc}"
    assert have["timezone"] == want_tz, f"the server's time zone is {have['timezone']}, not {want_tz}"

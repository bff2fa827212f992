"""The fault catalogue: what each fault breaks, how it is applied and undone, and the requirements
whose scenarios must turn red. Data only; tests/faults/test_faults.py runs them one at a time."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.helpers import REPO

from .surfaces import (
    ChangeMode,
    EditFile,
    Occupy,
    RedisConfig,
    Sql,
    Stack,
    StackConfig,
    Steps,
    StopProcess,
    Surface,
    Thresholds,
    Together,
    WriteFile,
)

# A well-formed Fernet token sealed with a key the stack does not hold.
FOREIGN_TOKEN = Fernet(Fernet.generate_key()).encrypt(b"ana.fixture@synthetic.edupro.invalid").decode()


def swap_sealed_email(value_sql: str) -> Sql:
    """The newest student's sealed e-mail replaced by VALUE_SQL, the original kept aside and put back."""
    return Sql("CREATE TABLE fault_sealed AS SELECT id, email_enc FROM students WHERE email_enc IS NOT NULL "
               "ORDER BY id DESC LIMIT 1;\n"
               f"UPDATE students SET email_enc = {value_sql} WHERE id = (SELECT id FROM fault_sealed)",
               "UPDATE students s SET email_enc = f.email_enc FROM fault_sealed f WHERE s.id = f.id;\n"
               "DROP TABLE fault_sealed")


def majority_class_model(stack: Stack) -> bytes:
    """A model with the served one's interface that answers every student with the most frequent outcome
    (pass): it loads, it answers, and it has learnt nothing."""
    import joblib
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    card = json.loads((stack.paths["models"] / "model_card.json").read_text())
    frame = pd.read_csv(REPO / "stack" / "data" / "student-mat.csv", sep=";")
    buffer = io.BytesIO()
    joblib.dump(DummyClassifier(strategy="prior").fit(frame[card["features"]], frame["G3"] >= 10), buffer)
    return buffer.getvalue()


# The append-only guard's function (stack/backend/migrations/versions/0002_privacy.py) with another BODY.
APPEND_ONLY = ("CREATE OR REPLACE FUNCTION disclosures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN {body} END $$")


# Where a route goes in the API's students module, and one that reads a student without FERPA's rule.
DIRECTORY_ROUTE = '@router.get("/directory", tags=["directory information"])'
UNGUARDED_ROUTE = ('@router.get("/students/{student_id}/summary")\n'
                   'async def fault_summary(student_id: int, user: CurrentUser) -> dict[str, Any]:\n'
                   '    return dict(await db.fetch_one("SELECT id, name FROM students WHERE id = %s", (student_id,)) or {})\n'
                   '\n\n')


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: str
    requirements: tuple[str, ...]
    surface: Surface
    # It changes this machine, not the stack (its packages, its /etc/os-release): every group's deploy.sh and suite
    # would meet it, so it is applied with the machine to itself (the quiet tests).
    machine_wide: bool = False


def nginx_conf(stack: Stack) -> Path:
    return Path(stack.status["services"]["proxy"]["config"])


def upstream_conf(stack: Stack) -> Path:
    return nginx_conf(stack).parent / "upstream.conf"


def reload_nginx(stack: Stack) -> None:
    stack.nginx("reload")


def path(key: str, *rest: str):  # type: ignore[no-untyped-def]
    return lambda stack: stack.paths[key].joinpath(*rest)


def newest_backup(stack: Stack) -> Path:
    return sorted(stack.paths["backups"].glob("edupro_backup_*.sql"))[-1]


@cache
def certificate(name: str, starts: int, ends: int) -> tuple[bytes, bytes]:
    """A self-signed certificate for NAME valid from STARTS to ENDS days from now, and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now + timedelta(days=starts))
            .not_valid_after(now + timedelta(days=ends))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def served_certificate(name: str, starts: int, ends: int) -> Surface:
    return Together((WriteFile(path("certificate"), lambda s: certificate(name, starts, ends)[0]),
                     WriteFile(path("private_key"), lambda s: certificate(name, starts, ends)[1])), then=reload_nginx)


def append_history(records: list[dict]) -> Surface:  # type: ignore[type-arg]
    return WriteFile(path("deployment_history"), lambda s: s.paths["deployment_history"].read_bytes()
                     + "".join(json.dumps(r) + "\n" for r in records).encode())


def idle_ports(stack: Stack) -> list[int]:
    idle = "green" if stack.status["live_colour"] == "blue" else "blue"
    return [int(a.rsplit(":", 1)[1]) for a in stack.status["services"][f"backend_{idle}"]["address"].split(",")]


def idle_port(stack: Stack) -> int:
    return idle_ports(stack)[0]


def reload_prometheus_and_scrape(stack: Stack) -> None:
    """Reload, then let two scrapes pass (every 5 s) so the change is what Prometheus answers with."""
    stack.prometheus_reload()
    time.sleep(11)


DROP_APP_METRICS = """- job_name: edupro-backend
  metric_relabel_configs:
  - source_labels: [__name__]
    regex: edupro_.*
    action: drop
"""

SLOW_AUDIT = ("CREATE FUNCTION fault_slow_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "PERFORM pg_sleep(0.2); RETURN NEW; END $$;\n"
              "CREATE TRIGGER fault_slow_audit AFTER INSERT ON disclosures FOR EACH ROW EXECUTE FUNCTION fault_slow_audit()")

LOSSY_DOWNGRADE = """        op.drop_index(name, table_name=table)
    op.execute("DELETE FROM grades WHERE student_id = (SELECT min(student_id) FROM grades)")"""


def archive_to_nowhere(stack: Stack) -> None:
    """The archive command succeeds and keeps nothing: the server reports the next segment archived."""
    with stack.superuser() as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'true'")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("CREATE TABLE fault_wal (x int)")
        conn.execute("SELECT pg_switch_wal()")
        time.sleep(2)


def archive_again(stack: Stack) -> None:
    """The archive has a gap for good: a new base backup after it makes the point in time restorable again."""
    with stack.superuser() as conn:
        conn.execute("ALTER SYSTEM RESET archive_command")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("DROP TABLE IF EXISTS fault_wal")
    stack.backup()


def serve_both_colours(stack: Stack) -> None:
    stack.idle_colour("start")
    conf = upstream_conf(stack)
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in idle_ports(stack))
    conf.write_text(conf.read_text().replace("    keepalive 32;", servers + "    keepalive 32;"))
    reload_nginx(stack)


def back_to_the_live_colour(stack: Stack) -> None:
    """The scenarios tagged ARCH-04 include a release, so the live colour may have changed meanwhile:
    `up` rewrites the upstream for whichever colour is live now, then the other one is stopped."""
    stack.up()
    stack.idle_colour("stop")


REINSTALL = "apt-get install -y -q --no-install-recommends tree"

FAILED_RELEASE = {"action": "release", "env": "development", "started": "2026-01-01T00:00:00+00:00",
                  "finished": "2026-01-01T00:01:00+00:00", "duration_seconds": 60, "outcome": "failed"}
FAILED_MIGRATION = {"action": "migration", "env": "development", "started": "2030-01-01T00:00:00+00:00",
                    "finished": "2030-01-01T00:00:05+00:00", "duration_seconds": 5, "phases": [],
                    "outcome": "failed", "rollback_required": True, "error": "injected"}

FAULTS: list[Fault] = [
    # --- TLS and the proxy (nginx.conf + graceful reload) ---
    Fault("weak-cipher", "a non-forward-secret CBC cipher is offered", ("TLS-04",),
          EditFile(nginx_conf, "ssl_ciphers ", "ssl_ciphers AES128-SHA:", then=reload_nginx)),
    Fault("hsts-removed", "the HSTS header is gone", ("TLS-04", "SEC-04"),
          EditFile(nginx_conf, 'add_header Strict-Transport-Security "max-age=63072000" always;', "", then=reload_nginx)),
    Fault("hsts-short", "HSTS max-age is one hour", ("TLS-04",),
          EditFile(nginx_conf, "max-age=63072000", "max-age=3600", then=reload_nginx)),
    Fault("nosniff-removed", "X-Content-Type-Options is not sent", ("SEC-04",),
          EditFile(nginx_conf, 'add_header X-Content-Type-Options "nosniff" always;', "", then=reload_nginx)),
    Fault("server-tokens-on", "nginx reveals its version", ("SEC-04",),
          EditFile(nginx_conf, "server_tokens off;", "server_tokens on;", then=reload_nginx)),
    Fault("no-https-redirect", "plain HTTP serves content instead of redirecting", ("TLS-04", "DATA-05"),
          EditFile(nginx_conf, "return 301 https://$host:", "return 200 'plain http'; # ", then=reload_nginx)),
    Fault("ip-hash-affinity", "the upstream pins clients to one backend (session affinity)", ("PLAN-03",),
          EditFile(upstream_conf, "upstream edupro_backend {\n", "upstream edupro_backend {\n    ip_hash;\n", then=reload_nginx)),
    Fault("frontend-not-served", "the proxy's root points nowhere", ("APP-02", "APP-03"),
          EditFile(nginx_conf, "root ", "root /nonexistent", then=reload_nginx)),
    Fault("proxy-config-broken", "nginx.conf on disk no longer passes nginx -t", ("APP-02", "ARCH-03"),
          EditFile(nginx_conf, "server_tokens off;", "server_tokens off; this is not nginx;")),
    # --- certificate and key files ---
    Fault("key-mode-644", "the private key is world-readable", ("TLS-02",), ChangeMode(path("private_key"), 0o644)),
    Fault("certificate-mode-600", "the certificate is not readable by others", ("TLS-02",), ChangeMode(path("certificate"), 0o600)),
    Fault("wrong-name-certificate", "the certificate names another host", ("TLS-01",),
          served_certificate("wrong.example", -1, 300)),
    Fault("expired-certificate", "the certificate expired yesterday", ("TLS-03",),
          served_certificate("edupro.local", -30, -1)),
    Fault("certificate-expires-soon", "the certificate expires in two days", ("TLS-03",),
          served_certificate("edupro.local", -1, 2)),
    Fault("key-does-not-match", "the key file belongs to another certificate", ("TLS-02",),
          WriteFile(path("private_key"), lambda s: certificate("other.example", -1, 30)[1])),
    # --- files of operations ---
    Fault("backup-mode-644", "the newest backup is readable by everyone", ("OPS-04",), ChangeMode(newest_backup, 0o644)),
    Fault("backup-truncated", "the newest backup was cut short at half its size", ("OPS-04",),
          WriteFile(newest_backup, lambda s: newest_backup(s).read_bytes()[:newest_backup(s).stat().st_size // 2])),
    Fault("model-writable", "the model can be overwritten", ("APP-07",), ChangeMode(path("models", "model.joblib"), 0o644)),
    Fault("logs-kept-7-days", "log rotation keeps only a week", ("OPS-05",),
          EditFile(path("logrotate"), "rotate 30", "rotate 7")),
    Fault("logs-rotated-weekly", "logs are rotated weekly", ("OPS-05",), EditFile(path("logrotate"), "daily", "weekly")),
    Fault("deployment-log-unlevelled", "the deployment log gets a line without timestamp or level", ("ENV-03",),
          WriteFile(path("deployment_log"), lambda s: s.paths["deployment_log"].read_bytes() + b"deploying...\n")),
    Fault("no-backup-schedule", "the daily backup is no longer scheduled", ("OPS-04",),
          EditFile(path("backup_schedule"), "15 2 * * *", "# 15 2 * * *")),
    Fault("dashboard-unknown-metric", "a dashboard plots a metric that does not exist", ("MON-04",),
          EditFile(lambda s: REPO / "stack/monitoring/grafana/dashboards/edupro.json", "sum(up)", "sum(edupro_no_such_metric)")),
    Fault("alert-rule-invalid", "the alert rule file no longer parses", ("MON-03",),
          EditFile(path("alert_rules"), "expr: up == 0", "expr: up == == 0")),
    Fault("alert-missing", "the stale-backup alert is removed and Prometheus reloaded", ("MON-03",),
          EditFile(path("alert_rules"), "- alert: BackupStale", "- alert: BackupStaleDisabled",
                   then=lambda s: s.prometheus_reload())),
    Fault("failed-migration-recorded", "the newest migration record failed and needs a rollback", ("DB-07",),
          append_history([FAILED_MIGRATION])),
    Fault("deployments-failing", "most recorded deployments failed", ("OPS-06",), append_history([FAILED_RELEASE] * 40)),
    Fault("broken-environment-config", "stack/config/development.yaml no longer validates", ("CFG-01",),
          EditFile(lambda s: REPO / "stack/config/development.yaml", "level: DEBUG", "level: LOUD")),
    Fault("backend-with-a-default-token-key", "the live backends restarted by hand with the token key 'secret'",
          ("CFG-04",), Steps(lambda s: s.restart_live_by_hand("secret"), lambda s: s.restart_live_by_hand(None))),
    Fault("app-role-with-a-default-password", "the application's database role accepts the password 'password'",
          ("CFG-04",), Steps(lambda s: s.app_role_password("password"), lambda s: s.app_role_password(None))),
    Fault("secret-shared-with-staging", "staging uses development's database password", ("CFG-04",),
          WriteFile(lambda s: s.run / "secrets-staging.json",
                    lambda s: json.dumps({"owner_password": s.secrets["owner_password"]}).encode())),
    # --- the database (SQL as the superuser) ---
    Fault("orphaned-foreign-key", "an enrolment points at a student that does not exist", ("DB-04",),
          Sql("ALTER TABLE enrolments DISABLE TRIGGER ALL;\nINSERT INTO enrolments VALUES (999999, 1);\n"
              "ALTER TABLE enrolments ENABLE TRIGGER ALL",
              "DELETE FROM enrolments WHERE student_id = 999999")),
    Fault("grade-changed", "a protected row changed since the pre-migration backup", ("DB-04",),
          Sql("UPDATE grades SET g3 = g3 + 1 WHERE student_id = 2", "UPDATE grades SET g3 = g3 - 1 WHERE student_id = 2")),
    Fault("schema-drift-column", "a column was added outside the migrations", ("DB-03",),
          Sql("ALTER TABLE teachers ADD COLUMN notes text", "ALTER TABLE teachers DROP COLUMN notes")),
    Fault("index-dropped", "a required index is missing", ("DB-06", "DB-03"),
          Sql("DROP INDEX ix_disclosures_student_id",
              "CREATE INDEX ix_disclosures_student_id ON disclosures (student_id)")),
    Fault("wrong-revision", "the schema claims an older revision", ("DB-03",),
          Sql("UPDATE alembic_version SET version_num = '0002_privacy'", "UPDATE alembic_version SET version_num = '0003_indexes'")),
    Fault("never-analysed-table", "a table with rows has never been analysed", ("DB-06",),
          Sql("CREATE TABLE fault_unanalysed WITH (autovacuum_enabled = false) AS SELECT generate_series(1, 500) AS n",
              "DROP TABLE fault_unanalysed")),
    Fault("timezone-not-utc", "the server's time zone is Asia/Jakarta", ("DB-08",),
          Sql("ALTER SYSTEM SET timezone = 'Asia/Jakarta'", "ALTER SYSTEM RESET timezone",
              then=lambda s: s.postgres("reload"))),
    Fault("postgres-on-all-interfaces", "PostgreSQL listens on every interface", ("PLAN-02", "APP-04"),
          Sql("ALTER SYSTEM SET listen_addresses = '*'", "ALTER SYSTEM RESET listen_addresses",
              then=lambda s: s.postgres("restart"))),
    Fault("wal-archiving-failing", "the archive command fails", ("OPS-03",),
          Sql("ALTER SYSTEM SET archive_command = 'false';\nSELECT pg_reload_conf();\nCREATE TABLE fault_wal (x int);\n"
              "SELECT pg_switch_wal();\nSELECT pg_sleep(2)",
              "ALTER SYSTEM RESET archive_command;\nSELECT pg_reload_conf();\nDROP TABLE fault_wal;\n"
              "SELECT pg_switch_wal();\nSELECT pg_sleep(2)")),
    Fault("wal-archived-nowhere", "the archive command reports success and keeps nothing", ("OPS-03",),
          Steps(archive_to_nowhere, archive_again)),
    Fault("weak-stored-hash", "an account's password is stored with bcrypt cost 4", ("SEC-02",),
          Sql("INSERT INTO users (username, password_hash, role) VALUES ('fault-weak', "
              "'$2b$04$abcdefghijklmnopqrstuu5Zb4ZZ1aAZ1aAZ1aAZ1aAZ1aAZ1aAZ1', 'student')",
              "DELETE FROM users WHERE username = 'fault-weak'")),
    Fault("audit-updatable", "the application role may rewrite disclosures", ("DATA-02",),
          Sql("GRANT UPDATE, DELETE ON disclosures TO edupro_app", "REVOKE UPDATE, DELETE ON disclosures FROM edupro_app")),
    Fault("audit-trigger-off", "the append-only trigger is disabled", ("DATA-02",),
          Sql("ALTER TABLE disclosures DISABLE TRIGGER disclosures_append_only",
              "ALTER TABLE disclosures ENABLE TRIGGER disclosures_append_only")),
    Fault("audit-trigger-toothless", "the append-only trigger is enabled but lets every rewrite through",
          ("DATA-02",), Sql(APPEND_ONLY.format(body="RETURN NULL;"),
                            APPEND_ONLY.format(body="RAISE EXCEPTION 'disclosures is append-only';"))),
    # A trigger that drops the entry silently: the read still answers 200 (a rule DO INSTEAD NOTHING would make
    # PostgreSQL refuse the API's read-and-record statement outright, a louder fault than this one).
    Fault("reads-not-audited", "record reads no longer leave a disclosure entry", ("DATA-02",),
          Sql("CREATE FUNCTION fault_no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;\n"
              "CREATE TRIGGER fault_no_audit BEFORE INSERT ON disclosures FOR EACH ROW EXECUTE FUNCTION fault_no_audit()",
              "DROP TRIGGER fault_no_audit ON disclosures;\nDROP FUNCTION fault_no_audit()")),
    Fault("students-see-everything", "new accounts are silently made administrators", ("DATA-01",),
          Sql("CREATE FUNCTION fault_escalate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "NEW.role := 'administrator'; RETURN NEW; END $$;\n"
              "CREATE TRIGGER fault_escalate BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION fault_escalate()",
              "DROP TRIGGER fault_escalate ON users;\nDROP FUNCTION fault_escalate()")),
    # A route the suite was never told about: DATA-01 finds it in the API's own description and tries it.
    Fault("route-without-ferpa-rule", "a new route returns any student's record to whoever signs in", ("DATA-01",),
          EditFile(lambda s: REPO / "stack/backend/edupro_api/routes/students.py", DIRECTORY_ROUTE,
                   UNGUARDED_ROUTE + DIRECTORY_ROUTE, then=lambda s: s.release_same_version())),
    Fault("erasure-keeps-email", "erasure leaves the e-mail behind", ("DATA-04",),
          Sql("CREATE FUNCTION fault_keep_email() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "NEW.email_enc := OLD.email_enc; RETURN NEW; END $$;\n"
              "CREATE TRIGGER fault_keep_email BEFORE UPDATE ON students FOR EACH ROW EXECUTE FUNCTION fault_keep_email()",
              "DROP TRIGGER fault_keep_email ON students;\nDROP FUNCTION fault_keep_email()")),
    Fault("opt-out-ignored", "the directory opt-out is silently reset", ("DATA-06",),
          Sql("CREATE FUNCTION fault_opt_in() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "NEW.directory_opt_out := false; RETURN NEW; END $$;\n"
              "CREATE TRIGGER fault_opt_in BEFORE UPDATE ON students FOR EACH ROW EXECUTE FUNCTION fault_opt_in()",
              "DROP TRIGGER fault_opt_in ON students;\nDROP FUNCTION fault_opt_in()")),
    Fault("email-stored-readable", "one student's e-mail is stored as plain text in its sealed column", ("DATA-05",),
          swap_sealed_email("convert_to('ana.fixture@example.org', 'UTF8')")),
    Fault("email-sealed-with-another-key", "one student's e-mail is sealed with a key other than the declared one",
          ("DATA-05",), swap_sealed_email(f"convert_to('{FOREIGN_TOKEN}', 'UTF8')")),
    Fault("plaintext-email-column", "e-mail addresses get a plain-text column", ("DATA-05", "DB-03"),
          Sql("ALTER TABLE students ADD COLUMN email text", "ALTER TABLE students DROP COLUMN email")),
    Fault("pii-in-database-log", "PostgreSQL logs every statement, values included", ("DATA-03",),
          Sql("ALTER SYSTEM SET log_statement = 'all'", "ALTER SYSTEM RESET log_statement",
              then=lambda s: s.postgres("reload"))),
    # --- backups ---
    Fault("backup-does-not-restore", "the newest backup is corrupt", ("DB-01", "OPS-02", "OPS-04"),
          WriteFile(lambda s: s.paths["backups"] / f"edupro_backup_{datetime.now(UTC).strftime('%Y%m%d_%H%M%S')}.sql",
                    lambda s: b"CREATE TABLE broken (;\n")),
    # --- the cache (CONFIG SET) ---
    Fault("redis-without-password", "the cache answers without a password", ("APP-05",), RedisConfig("requirepass", "")),
    Fault("redis-without-aof", "the cache no longer persists to its append-only file", ("APP-05",),
          RedisConfig("appendonly", "no")),
    # --- the backend's configuration (stack/config + a blue-green release) ---
    Fault("jwt-expiry-a-week", "tokens live for a week", ("SEC-01", "CFG-02"),
          StackConfig(("security", "jwt_expiry_minutes"), 10080)),
    Fault("bcrypt-cost-4", "new passwords would be hashed with cost 4", ("CFG-02",),
          StackConfig(("security", "password_hash_rounds"), 4)),
    Fault("rate-limit-off", "the rate limit is switched off", ("SEC-03", "CFG-02"),
          StackConfig(("api", "rate_limit_per_minute"), 0)),
    Fault("cors-any-origin", "CORS admits any origin", ("SEC-05",), StackConfig(("api", "cors_origins"), ["*"])),
    Fault("log-level-warning", "development logs at WARNING", ("CFG-03", "APP-07"),
          StackConfig(("logging", "level"), "WARNING", file="development.yaml")),
    # --- processes ---
    Fault("node-exporter-down", "a Prometheus target is down", ("MON-01",), StopProcess(lambda s: s.run / "pids" / "node-exporter.pid")),
    Fault("release-cannot-start", "the idle colour's port is taken, so a release and a rollback fail",
          ("REL-01", "REL-02", "ARCH-04"), Occupy(idle_port)),
    Fault("monitoring-stopped", "Prometheus is not running", ("ARCH-01",),
          StopProcess(lambda s: s.run / "pids" / "prometheus.pid", seen_by_prometheus=False)),
    Fault("database-restarted-after-backend", "the database restarted under a running backend", ("ARCH-02",),
          Steps(lambda s: s.postgres("restart"), lambda s: s.release_same_version())),
    Fault("both-colours-serve", "the idle colour is started and left in the upstream beside the live one", ("ARCH-04",),
          Steps(serve_both_colours, back_to_the_live_colour)),
    Fault("base-package-removed", "the base package 'tree' is not installed", ("ENV-02",),
          Steps(lambda s: s.run_command("dpkg", "--remove", "tree"),
                lambda s: s.run_command("sh", "-c", f"{REINSTALL} || (apt-get update -q && {REINSTALL})")),
          machine_wide=True),
    Fault("unsupported-os-release", "the host says it runs Debian 11", ("ENV-01", "SW-01"),
          EditFile(lambda s: Path("/etc/os-release"), 'VERSION_ID="12"', 'VERSION_ID="11"'), machine_wide=True),
    Fault("slow-audit-trigger", "every disclosure entry waits 200 ms in a trigger", ("PERF-01",), Sql(
          SLOW_AUDIT, "DROP TRIGGER fault_slow_audit ON disclosures;\nDROP FUNCTION fault_slow_audit()")),
    Fault("rate-limit-too-tight", "10 requests a minute per user: the load's users are refused", ("PERF-02",),
          StackConfig(("api", "rate_limit_per_minute"), 10)),
    Fault("app-metrics-dropped", "Prometheus drops every edupro_* series it scrapes", ("MON-02",),
          EditFile(lambda s: s.run / "prometheus" / "prometheus.yml", "- job_name: edupro-backend\n", DROP_APP_METRICS,
                   then=reload_prometheus_and_scrape)),
    Fault("smoke-student-disabled", "the student account of the smoke journey is deactivated", ("REL-03",),
          Sql("UPDATE users SET active = false WHERE username = 'demo.student'",
              "UPDATE users SET active = true WHERE username = 'demo.student'")),
    Fault("lossy-downgrade", "the newest migration's downgrade deletes a row of grades", ("DB-05",),
          EditFile(lambda s: REPO / "stack/backend/migrations/versions/0003_indexes.py",
                   "        op.drop_index(name, table_name=table)", LOSSY_DOWNGRADE)),
]

# Checks whose subject a test cannot break on this machine: seen red against thresholds it cannot meet.
FAULTS += [
    Fault("too-few-cores", "the profile asks 64 cores", ("HW-01",), Thresholds({"HW-01": {"min_cores": ">= 64"}})),
    Fault("too-little-memory", "the profile asks 4 TB of memory", ("HW-02",), Thresholds({"HW-02": {"min_memory": ">= 4 TB"}})),
    Fault("too-little-storage", "the profile asks 1000 TB of storage", ("HW-03",),
          Thresholds({"HW-03": {"min_storage": ">= 1000 TB"}})),
    Fault("too-little-bandwidth", "the profile asks 10000 Gbps between tiers", ("HW-04",),
          Thresholds({"HW-04": {"min_bandwidth": ">= 10000 Gbps"}})),
    Fault("nginx-too-old", "the profile asks nginx 99", ("SW-04",), Thresholds({"SW-04": {"min_version": ">= 99.0.0"}})),
    Fault("postgresql-too-old", "the profile asks PostgreSQL 99", ("SW-05",), Thresholds({"SW-05": {"min_version": ">= 99.0"}})),
    Fault("no-room-for-migration", "the profile asks a million times the database size free", ("DB-02",),
          Thresholds({"DB-02": {"free_space_factor": ">= 1000000"}})),
    Fault("model-replaced-by-a-stub", "the live backends serve a model that answers 'pass' to every student; "
          "the card is unchanged", ("ML-01",),
          WriteFile(path("models", "model.joblib"), majority_class_model, then=lambda s: s.restart_live_by_hand(None))),
    Fault("model-below-floor", "the profile asks 99.9 % held-out accuracy", ("ML-01",),
          Thresholds({"ML-01": {"min_accuracy": ">= 99.9 %"}})),
]

# Requirements without a fault here or among the container faults (tests/compose/faults.py), and where they
# are seen red instead.
NOT_INJECTED: dict[str, str] = {
    **dict.fromkeys(("PLAN-01", "GOV-01", "GOV-02", "REL-04"),
                    "not applicable in development, where the fault tests run; the plan and the approval records "
                    "they read are exercised by tests/unit/test_units_and_plan.py and test_signing.py"),
    "OPS-01": "an outage stays in the availability window (5 min in development) after the undo, so the healed "
              "run could not be green for minutes; the availability query is exercised on every clean run",
    **dict.fromkeys(("COMP-01", "COMP-02", "COMP-03"), "roll-ups: red whenever an item is red "
                    "(tests/unit/test_units_and_plan.py::test_a_failure_outweighs_a_pass_and_gaps_are_not_covered)"),
    **dict.fromkeys(("RPT-01", "RPT-02", "RPT-03", "RPT-04", "GATE-01", "WAIVE-01"),
                    "the suite's own reports, gate and waivers: tests/unit and tests/stack/test_report_chain.py"),
}

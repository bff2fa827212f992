"""PostgreSQL 15: the project's own cluster, loopback only, scram-sha-256, TLS, WAL archiving."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import psycopg
from psycopg import sql

from ..config import StackConfig
from ..layout import Layout
from ..processes import StackError, as_service_user, give, run, wait_for_port

BIN = "/usr/lib/postgresql/15/bin"
OWNER, APP = "edupro_owner", "edupro_app"


def _pg(program: str) -> str:
    path = os.path.join(BIN, program)
    if not os.path.exists(path):
        raise StackError(f"PostgreSQL 15 is not installed ({path} missing); run: apt-get install postgresql-15")
    return path


def _settings(cfg: StackConfig, layout: Layout) -> str:
    archive = layout.wal_archive
    return "\n".join([
        f"listen_addresses = '{','.join(listen_addresses(cfg))}'",
        f"port = {cfg.database.port}",
        f"unix_socket_directories = '{layout.pgsocket}'",
        "password_encryption = 'scram-sha-256'",
        "ssl = on",
        f"ssl_cert_file = '{layout.pgdata / 'server.crt'}'",
        f"ssl_key_file = '{layout.pgdata / 'server.key'}'",
        "ssl_min_protocol_version = 'TLSv1.2'",
        "timezone = 'UTC'",
        "log_timezone = 'UTC'",
        "wal_level = replica",
        "archive_mode = on",
        f"archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'",
        f"archive_timeout = {cfg.backup.archive_timeout_seconds}",
        "max_connections = 200",
        "",
    ])


def listen_addresses(cfg: StackConfig) -> list[str]:
    """Loopback; on the data tier of a three-tier network its own address too (its firewall admits the
    application servers alone)."""
    return [cfg.database.host, *(cfg.tiers.data[:1] if cfg.tiers.role == "data" else [])]


def _hba(cfg: StackConfig) -> str:
    # Staging and production accept only TLS connections; development (ssl_mode disable) both.
    host = "host" if cfg.database.ssl_mode in ("disable", "prefer") else "hostssl"
    app_servers = [f"hostssl {cfg.database.name} {APP} {address}/32 scram-sha-256"  # TLS between tiers, always
                   for address in (cfg.tiers.app if cfg.tiers.role == "data" else [])]
    return "\n".join([
        "local all all scram-sha-256",
        f"{host} all all 127.0.0.1/32 scram-sha-256",
        f"{host} replication postgres 127.0.0.1/32 scram-sha-256",  # pg_basebackup (OPS-03)
        *app_servers,
        "",
    ])


def init(cfg: StackConfig, layout: Layout) -> None:
    if (layout.pgdata / "PG_VERSION").exists():
        return
    for folder in (layout.pgdata.parent, layout.pgsocket, layout.wal_archive, layout.dumps, layout.base_backups):
        folder.mkdir(parents=True, exist_ok=True)
    give(layout.pgdata.parent)
    give(layout.backups, 0o700)
    with tempfile.NamedTemporaryFile("w", delete=False, dir=layout.run, prefix=".pw") as pwfile:
        pwfile.write(cfg.secrets.postgres_password)
    give(layout.run / pwfile.name)
    try:
        run(as_service_user([_pg("initdb"), "-D", str(layout.pgdata), "-U", "postgres", "-E", "UTF8",
                             "--locale=C.UTF-8", "--auth=scram-sha-256", f"--pwfile={pwfile.name}"]),
            what="initdb")
    finally:
        os.unlink(pwfile.name)
    shutil.copy(layout.certificate, layout.pgdata / "server.crt")
    shutil.copy(layout.private_key, layout.pgdata / "server.key")
    give(layout.pgdata / "server.crt", 0o644)
    give(layout.pgdata / "server.key", 0o600)


def configure(cfg: StackConfig, layout: Layout) -> None:
    conf = layout.pgdata / "postgresql.conf"
    text = conf.read_text()
    marker = "# --- EduPro ---\n"
    conf.write_text(text.split(marker)[0] + marker + _settings(cfg, layout))
    (layout.pgdata / "pg_hba.conf").write_text(_hba(cfg))
    give(layout.pgdata / "pg_hba.conf", 0o600)


def start(cfg: StackConfig, layout: Layout) -> None:
    if running(layout):
        reload(layout)  # what configure wrote (pg_hba.conf, reloadable settings) takes effect
        return
    log = layout.logs / "postgres.log"
    log.touch()
    give(log)
    run(as_service_user([_pg("pg_ctl"), "-D", str(layout.pgdata), "-l", str(log), "-w", "-t", "60", "start"]),
        what="PostgreSQL start")
    wait_for_port(cfg.database.host, cfg.database.port, "PostgreSQL")


def reload(layout: Layout) -> None:
    run(as_service_user([_pg("pg_ctl"), "-D", str(layout.pgdata), "reload"]), what="PostgreSQL reload")


def stop(layout: Layout) -> None:
    if running(layout):
        run(as_service_user([_pg("pg_ctl"), "-D", str(layout.pgdata), "-m", "fast", "-w", "stop"]),
            what="PostgreSQL stop")


def running(layout: Layout) -> bool:
    if not (layout.pgdata / "PG_VERSION").exists():
        return False
    return subprocess.run(as_service_user([_pg("pg_ctl"), "-D", str(layout.pgdata), "status"]),
                          capture_output=True).returncode == 0


def connect(cfg: StackConfig, user: str = "postgres", password: str | None = None,
            dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=cfg.database.host, port=cfg.database.port, user=user, dbname=dbname,
                           password=password or cfg.secrets.postgres_password, autocommit=True,
                           sslmode="prefer", connect_timeout=5)


def bootstrap(cfg: StackConfig) -> None:
    """Roles and database, idempotent: the owner runs migrations, the app only gets grants."""
    with connect(cfg) as conn:
        for role, password in ((OWNER, cfg.secrets.owner_password), (APP, cfg.secrets.app_password)):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            # The owner may create databases: restore drills and migration round trips use scratch copies.
            options = " CREATEDB" if role == OWNER else ""
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN" + options + " PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg.database.name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(cfg.database.name), sql.Identifier(OWNER)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(cfg.database.name)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(cfg.database.name), sql.Identifier(APP)))
    with connect(cfg, dbname=cfg.database.name) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(APP)))


def has_schema(cfg: StackConfig) -> bool:
    with connect(cfg, dbname=cfg.database.name) as conn:
        return bool(conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0])


def revision(cfg: StackConfig) -> str:
    with connect(cfg, dbname=cfg.database.name) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def analyze_and_archive(cfg: StackConfig) -> None:
    """Fresh statistics after loading (DB-06); close the WAL segment so it is archived now (OPS-03)."""
    with connect(cfg, dbname=cfg.database.name) as conn:
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_switch_wal()")

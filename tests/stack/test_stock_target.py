"""The suite against a target it knows nothing of: a stock nginx and a stock PostgreSQL cluster (initdb's own
settings), named by a hand-written profile. Most checks fail or cannot run there; every reason must still be a
sentence (no exception class name), and what a stock cluster does meet (DB-08: UTF-8, its time zone UTC under
whatever name the system gives it) passes."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import run_suite

from .test_acceptance_runs import profile_with

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# A Python exception's class name in a reason (JSONDecodeError, UndefinedTable, KeyError, TimeoutException…).
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Timeout|Warning)\b|\b(UndefinedTable|UndefinedColumn)\b")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def as_nobody() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


@pytest.fixture(scope="module")
def stock() -> Iterator[dict[str, Any]]:
    """initdb with its defaults (UTF-8, the system's time zone), a role and a database of a shop, not EduPro's; nginx
    with its welcome page over TLS (a self-signed certificate)."""
    folder = Path(tempfile.mkdtemp(prefix="edupro-stock-"))  # pytest's own folders are closed to nobody
    runner = as_nobody()
    if runner:
        os.chown(folder, runner["user"], runner["group"])
    data, password = folder / "pg", "a-shop-password-4711"
    (folder / "pw").write_text(password)
    if runner:
        os.chown(folder / "pw", runner["user"], runner["group"])
    subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--auth=scram-sha-256",
                    f"--pwfile={folder / 'pw'}"], check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"},
                   **runner)
    pg_port, https_port, http_port = free_port(), free_port(), free_port()
    ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "pg.log"), "-w"]
    subprocess.run([*ctl, "-o", f"-p {pg_port} -k {folder} -c listen_addresses=127.0.0.1", "start"], check=True,
                   capture_output=True, **runner)
    env = {"PGPASSWORD": password, "PATH": "/usr/bin:/bin"}
    psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-c", f"CREATE ROLE shop LOGIN PASSWORD '{password}'", "-c",
                    "CREATE DATABASE shop OWNER shop"], check=True, capture_output=True, env=env)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=shop.test",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    (folder / "nginx.conf").write_text(f"""
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log;
events {{}}
http {{
  access_log off;
  server {{ listen 127.0.0.1:{http_port}; return 301 https://$host:{https_port}$request_uri; }}
  server {{ listen 127.0.0.1:{https_port} ssl; ssl_certificate {folder}/cert.pem; ssl_certificate_key {folder}/key.pem;
           root /usr/share/nginx/html; }}
}}
""")
    subprocess.run(["nginx", "-c", str(folder / "nginx.conf")], check=True, capture_output=True)
    try:
        yield {"folder": folder, "pg_port": pg_port, "https_port": https_port, "http_port": http_port,
               "password": password}
    finally:
        subprocess.run(["nginx", "-c", str(folder / "nginx.conf"), "-s", "stop"], capture_output=True)
        subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True, **runner)
        time.sleep(0.5)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_stock_target_gets_sentences_and_a_utc_verdict(stock: dict[str, Any], tmp_path: Path) -> None:
    target = {"host": "local://", "base_url": f"https://127.0.0.1:{stock['https_port']}",
              "http_url": f"http://127.0.0.1:{stock['http_port']}",
              "database": {"host": "127.0.0.1", "port": stock["pg_port"], "name": "shop", "user": "shop"}}
    specs = profile_with(tmp_path, target)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({"database_password": stock["password"]}))
    secrets.chmod(0o600)
    reports = tmp_path / "reports"
    result = run_suite("--env", "remote", f"--specs={specs}", "--release", "1.0.0", "--no-gate", "-m", "not load",
                       f"--reports-dir={reports}", "-q", "-p", "no:randomly",
                       env={"EDUPRO_VERIFY_SECRETS": str(secrets)})
    latest = reports / "latest" / "evidence.json"
    assert latest.exists(), result.stdout[-2000:] + result.stderr[-1000:]
    evidence = json.loads(latest.read_text())
    reasons = {f"{s['scenario']}": s["reason"] for s in evidence["scenarios"] if s.get("reason")}
    reasons |= {rid: r["reason"] for rid, r in evidence["requirements"].items() if r.get("reason")}
    tally: dict[str, int] = {}
    for found in evidence["requirements"].values():
        tally[found["status"]] = tally.get(found["status"], 0) + 1
    print(f"stock target: {tally}")
    named = {where: reason for where, reason in reasons.items() if EXCEPTION_NAME.search(reason)}
    assert not named, f"reasons naming an exception class: {named}"
    db08 = evidence["requirements"]["DB-08"]
    assert db08["status"] == "passed", db08
    assert result.returncode == 1  # a shop is not EduPro: most checks fail, in words

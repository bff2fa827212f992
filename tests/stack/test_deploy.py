"""deploy.sh's promises on a live stack: TLS, file modes, Redis, exposure, release and rollback."""

from __future__ import annotations

import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.helpers import deploy, status


def tls_handshake(port: int, version: str) -> bool:
    result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", f"-{version}",
                             "-servername", "edupro.local"], input="", capture_output=True, text=True, timeout=10)
    return "Cipher is (NONE)" not in result.stdout and result.returncode == 0


def test_up_twice_is_harmless(stack: dict[str, Any]) -> None:
    again = deploy("up")
    assert again.returncode == 0, again.stderr
    assert status()["services"]["proxy"]["state"] == "running"


def test_status_json_names_every_path_the_suite_needs(stack: dict[str, Any]) -> None:
    for key in ("certificate", "private_key", "logs", "backups", "secrets", "demo_accounts"):
        assert Path(stack["paths"][key]).exists(), key
    assert {"driver", "env", "base_url", "live_colour", "version", "services"} <= set(stack)


def test_only_tls_12_and_13_are_accepted(stack: dict[str, Any]) -> None:
    port = int(stack["base_url"].rsplit(":", 1)[1])
    assert not tls_handshake(port, "tls1_1")
    assert tls_handshake(port, "tls1_2")
    assert tls_handshake(port, "tls1_3")


def test_private_key_is_600_and_certificate_644(stack: dict[str, Any]) -> None:
    assert stat.S_IMODE(Path(stack["paths"]["private_key"]).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(stack["paths"]["certificate"]).stat().st_mode) == 0o644
    assert stat.S_IMODE(Path(stack["paths"]["secrets"]).stat().st_mode) == 0o600


def test_redis_refuses_commands_without_the_password(stack: dict[str, Any]) -> None:
    cache = stack["cache"]
    try:
        redis.Redis(host=cache["host"], port=cache["port"], socket_timeout=2).ping()
        answered = True
    except redis.AuthenticationError:
        answered = False
    assert not answered


def test_nothing_but_nginx_listens_beyond_loopback(stack: dict[str, Any]) -> None:
    lines = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout.splitlines()
    exposed = [line for line in lines if not line.split()[3].startswith(("127.", "[::1]")) and ":2024 " not in line]
    assert exposed and all("nginx" in line for line in exposed), exposed


def probe_during(action: list[str], base_url: str) -> tuple[int, int, list[str]]:
    """Requests back to back while ACTION runs, each on a connection of its own, as the suite's ContinuousProbe sends
    them: a graceful reload closes idle kept-alive connections, and a client that reuses one just then gets "Remote
    end closed connection" for a request the server never received (browsers send such a request again; RFC 9112
    9.3.1). On a new connection, a request that gets no answer is one the server dropped."""
    counts = {"requests": 0, "failures": 0}
    errors: list[str] = []
    stop = threading.Event()
    session = requests.Session()

    def loop() -> None:
        while not stop.is_set():
            counts["requests"] += 1
            try:
                if session.get(f"{base_url}/version", verify=False, timeout=5,
                               headers={"Connection": "close"}).status_code != 200:
                    raise ValueError("not 200")
            except (requests.RequestException, ValueError) as error:
                counts["failures"] += 1
                errors.append(str(error)[:80])
            time.sleep(0.005)

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(0.3)
    result = deploy(*action)
    time.sleep(0.3)
    stop.set()
    thread.join()
    assert result.returncode == 0, result.stderr
    return counts["requests"], counts["failures"], errors


@pytest.mark.quiet  # a probe counts dropped requests: the machine to itself
def test_release_and_rollback_drop_no_request(stack: dict[str, Any]) -> None:
    before = status()["live_colour"]
    sent, failed, errors = probe_during(["release", "2.0.1"], stack["base_url"])
    assert failed == 0, errors[:3]
    after = status()
    assert after["live_colour"] != before and after["version"] == "2.0.1"
    sent_back, failed_back, errors = probe_during(["rollback"], stack["base_url"])
    assert failed_back == 0, errors[:3]
    assert status()["live_colour"] == before and status()["version"] == stack["version"]
    print(f"release: {sent} requests, {failed} failed; rollback: {sent_back} requests, {failed_back} failed")

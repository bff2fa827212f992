"""The stack's ports: a taken one is named with what holds it; an offset moves every port of a second stack."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "ops"))

from edupro_stack.config import ConfigError, port_offset, shift_ports  # noqa: E402
from edupro_stack.processes import StackError, holder, require_free  # noqa: E402


def test_a_taken_port_is_named_with_what_holds_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # held by this very process
        port, me = server.getsockname()[1], os.getpid()
        assert str(holder(port)).endswith(f"(pid {me})")
        with pytest.raises(StackError, match=rf"port {port} is already in use by \S+ \(pid {me}\), so the test"):
            require_free("127.0.0.1", port, "the test")
    assert holder(port) is None


def test_an_offset_moves_every_port_and_the_origin() -> None:
    merged = {"database": {"port": 5432, "host": "127.0.0.1"}, "cache": {"port": 6379},
              "proxy": {"http_port": 8080, "https_port": 8443, "listen": "0.0.0.0"},
              "monitoring": {"prometheus_port": 9090, "node_exporter_port": 9100},
              "api": {"ports": {"blue": [8001, 8003], "green": [8002, 8004]},
                      "cors_origins": ["https://edupro.local:8443"]}}
    moved = shift_ports(merged, 20000)
    assert moved["database"] == {"port": 25432, "host": "127.0.0.1"} and moved["cache"]["port"] == 26379
    assert (moved["proxy"]["http_port"], moved["proxy"]["https_port"]) == (28080, 28443)
    assert moved["api"]["ports"] == {"blue": [28001, 28003], "green": [28002, 28004]}
    assert moved["api"]["cors_origins"] == ["https://edupro.local:28443"]
    assert shift_ports(merged, 0) is merged


def test_a_bad_offset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDUPRO_PORT_OFFSET", "lots")
    with pytest.raises(ConfigError, match="EDUPRO_PORT_OFFSET=lots: give a whole number"):
        port_offset()

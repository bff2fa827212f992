"""The reverse proxy as it runs: its whole effective configuration (PLAN-03, APP-02)."""

from __future__ import annotations

from ..targets import Target
from . import host


def configuration(target: Target) -> str:
    """The proxy's whole effective configuration, as `nginx -T` prints it, where nginx runs (its container or the
    target host), with the configuration file the stack's status names."""
    conf = target.status.get("services", {}).get("proxy", {}).get("config")
    command = f"nginx -T -c {conf}" if conf else "nginx -T"
    return host.run(target.service_host("proxy"), command)

"""The reverse proxy as it runs: its whole effective configuration (PLAN-03, APP-02)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..targets import Target
from . import host

AFFINITY = ("ip_hash", "hash ", "sticky", "least_conn", "random")


def configuration(target: Target) -> str:
    """The proxy's whole effective configuration, as `nginx -T` prints it, where nginx runs (its container or the
    target host), with the configuration file the stack's status names."""
    conf = target.inventory.proxy_config()
    command = f"nginx -T -c {conf}" if conf else "nginx -T"
    return host.run(target.service_host("proxy"), command)


@dataclass
class Upstream:
    text: str  # the upstream block, whitespace collapsed
    affinity: list[str]  # directives that replace round robin or pin clients to a server
    health_checked: bool  # passive health checks declared (max_fails)
    present: bool = True


def upstream(configuration_text: str) -> Upstream:
    """Every upstream block (the API's, and the frontend's on a web tier of its own) judged together: affinity in
    any of them counts, and each must declare its health check."""
    blocks = re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", configuration_text)
    if not blocks:
        return Upstream("", [], False, present=False)
    text = " ".join(f"{name}: {' '.join(body.split())}" for name, body in blocks)
    affinity = [d.strip() for d in AFFINITY if any(d in body for _, body in blocks)]
    return Upstream(text, affinity, all("max_fails" in body for _, body in blocks))

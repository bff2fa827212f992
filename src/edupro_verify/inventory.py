"""The target's inventory, typed: its services, their addresses and states, the live colour, its containers.

Filled once when the target is resolved, by a provider: the profile alone (a target the suite did not
deploy: no services are known beyond what the profile names), or `deploy.sh status --json` for the
reference stack this repository runs (local processes or containers). Steps read this, never a raw dict.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import ProbeError


class HealthCheck(BaseModel):
    model_config = ConfigDict(extra="ignore")
    path: str = "/health"
    interval_seconds: float | None = None
    timeout_seconds: float | None = None
    retries: int | None = None


class Service(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    state: str
    addresses: list[tuple[str, int]] = []
    live: bool = False
    config: str | None = None
    healthcheck: HealthCheck | None = None
    version: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @classmethod
    def from_status(cls, name: str, entry: dict[str, Any]) -> Service:
        addresses = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1]))
                     for a in str(entry.get("address") or "").split(",") if ":" in a]
        return cls(name=name, **{k: v for k, v in entry.items() if k not in ("address", "name")},
                   addresses=addresses)


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: Literal["profile", "deploy.sh"] = "profile"
    driver: str = "remote"
    live_colour: str | None = None
    version: str | None = Field(None, description="the version the stack reports running (a fact, not the release under verification)")
    services: dict[str, Service] = {}
    containers: dict[str, str] = Field({}, description="service -> container name (compose driver)")

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> Inventory:
        return cls(provider="deploy.sh", driver=status.get("driver", "local"), live_colour=status.get("live_colour"),
                   version=status.get("version"),
                   services={n: Service.from_status(n, s) for n, s in status.get("services", {}).items()},
                   containers=dict(status.get("containers", {})))

    def known(self) -> dict[str, Service]:
        """Every service with its state; an error naming what to add when the provider gives none."""
        if not self.services:
            raise ProbeError("the target's inventory lists no services (a profile-only target: name them in the "
                             "profile, or verify the reference stack with target.discover: deploy.sh)")
        return self.services

    def service(self, name: str) -> Service:
        found = self.known().get(name)
        if found is None:
            raise ProbeError(f"the target's inventory has no service '{name}'")
        return found

    @property
    def backends(self) -> dict[str, Service]:
        return {n: s for n, s in self.known().items() if n.startswith("backend_")}

    @property
    def live_backend(self) -> str:
        """The name of the live backend colour's service (backend_blue, backend_green)."""
        if not self.live_colour:
            raise ProbeError("the target's inventory names no live colour")
        return f"backend_{self.live_colour}"

    def live_instances(self) -> list[tuple[str, int]]:
        return [a for s in self.known().values() if s.live for a in s.addresses]

    def proxy_config(self) -> str | None:
        proxy = self.services.get("proxy")
        return proxy.config if proxy else None

"""The target's inventory, typed: its services, their addresses and states, the live colour, its containers.

Filled once when the target is resolved, by a provider: the profile and the host (a target the suite did not
deploy: the profile names each service and where it listens, and what listens and where the proxy sends its
requests are observed on the host over SSH), or `deploy.sh status --json` for the reference stack this
repository runs (local processes or containers). Steps read this, never a raw dict.
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
    provider: Literal["profile", "host", "docker", "deploy.sh"] = "profile"
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

    @classmethod
    def observed(cls, declared: dict[str, dict[str, Any]], listening: set[tuple[str, int]],
                 upstream: set[tuple[str, int]]) -> Inventory:
        """The profile's services as the host shows them: running when something listens on every address the
        profile gives; the live backend colour the one whose addresses the proxy's loaded upstream names."""
        def listens(address: tuple[str, int]) -> bool:
            host, port = address
            return address in listening or ("0.0.0.0", port) in listening or (host == "0.0.0.0" and any(
                p == port for _, p in listening))

        services: dict[str, Service] = {}
        live_colour = None
        for name, entry in declared.items():
            addresses = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in entry.get("listen", [])]
            running = bool(addresses) and all(listens(a) for a in addresses)
            live = name.startswith("backend_") and bool(addresses) and set(addresses) <= upstream
            if live:
                live_colour = name.removeprefix("backend_")
            services[name] = Service(name=name, state="running" if running else "stopped", addresses=addresses,
                                     live=live, config=entry.get("config"),
                                     healthcheck=HealthCheck(**entry["healthcheck"]) if entry.get("healthcheck") else None)
        return cls(provider="host", driver="remote", live_colour=live_colour, services=services)

    def known(self) -> dict[str, Service]:
        """Every service with its state; an error naming what to add when the provider gives none."""
        if not self.services:
            raise ProbeError("the target's inventory lists no services: name them in the profile (target.services: "
                             "each service's listen addresses, as the host sees them)")
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
            raise ProbeError("the target's inventory names no live colour: the proxy sends requests to none of the "
                             "backend colours the profile names (target.services.backend_blue/backend_green.listen)")
        return f"backend_{self.live_colour}"

    def live_instances(self) -> list[tuple[str, int]]:
        return [a for s in self.known().values() if s.live for a in s.addresses]

    def proxy_config(self) -> str | None:
        proxy = self.services.get("proxy")
        return proxy.config if proxy else None

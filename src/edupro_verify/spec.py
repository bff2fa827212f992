"""The specs: the requirement catalogue and the environment profiles, merged and validated.

Profile = specs/requirements.yaml thresholds (the seed's production numbers)
        < specs/environments/<env>.yaml (targets, relaxed thresholds with reasons, not-applicable)
        < secrets (EDUPRO_VERIFY_SECRETS file outside the repository, or the stack's own files).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .units import Limit, Quantity, UnitError, parse, same_dimension, typed

SPECS = Path(__file__).resolve().parents[2] / "specs"
PHASES = {0: "The suite itself (every run)", 1: "Requirements analysis & infrastructure planning",
          2: "System design & architecture", 3: "Environment setup & configuration",
          4: "Application deployment & integration", 5: "Database migration & data integrity",
          6: "Testing & quality assurance", 7: "Production release & go-live", 8: "Maintenance & monitoring"}


class SpecError(Exception):
    """A spec that cannot be used: the message names the file, the key and the problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Requirement(Strict):
    id: str
    title: str
    phase: int = Field(ge=0, le=8)
    severity: Literal["critical", "high", "medium", "low"]
    source: str
    standards: list[str] = []
    maps_to: list[str] = []
    thresholds: dict[str, Any] = {}


class LoadSettings(Strict):
    users: int = Field(ge=1)
    spawn_rate: float = Field(gt=0)
    duration: str
    workers: int = Field(0, ge=0, description="0: library mode; N: a Locust master and N local workers")


class ServiceSpec(Strict):
    listen: list[str] = []
    config: str | None = None
    healthcheck: dict[str, Any] | None = None


class DeployTool(Strict):
    command: str
    arguments: list[str] = []


class TargetSpec(Strict):
    discover: Literal["deploy.sh"] | None = None
    host: str = "local://"
    # An ssh:// host: the OpenSSH client settings to reach it with (key, pinned host key), relative to the
    # repository or absolute; `sudo: true` runs the host checks through sudo (the firewall, fail2ban, cron).
    ssh_config: str | None = None
    sudo: bool = False
    # Several hosts per tier (tier -> testinfra host specs: local://, ssh://user@host, docker://name): the host
    # checks (cores, memory, disk, operating system, packages) then run on each of them, side by side.
    hosts: dict[str, list[str]] = {}
    # Or the tiers' servers from an Ansible inventory (INI or YAML with the groups web, app and data; relative to
    # the repository or absolute): each host as ssh://ansible_user@ansible_host (another port: in ssh_config).
    inventory: str | None = None
    # Which tier's first host holds each service and path (tier -> names); the rest are on `host`.
    where: dict[str, list[str]] = {}
    base_url: str | None = None
    http_url: str | None = None
    server_name: str | None = None
    prometheus_url: str | None = None
    prometheus_through: Literal["ssh"] | None = None  # Prometheus listens on the server's loopback: tunnel to it
    database: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    paths: dict[str, str] = {}
    # A target the suite did not deploy: each service and where it listens as the host sees it
    # (`listen: [127.0.0.1:5432]`), the proxy's configuration file, the backend's declared health check.
    services: dict[str, ServiceSpec] = {}
    # The deployment's own tool, for the checks that exercise it (config, release, rollback): the command and
    # the arguments every call ends with (as --env staging).
    deploy: DeployTool | None = None
    # How the server runs the stack, for deploy.sh: processes, or containers (Docker Engine and Compose, the paper's
    # deployment). With containers, name each service's container (service -> container name): the suite reads them
    # through the server's Docker API over SSH and runs commands inside them there.
    runs: Literal["processes", "containers"] = "processes"
    containers: dict[str, str] = {}
    # For deploy.sh: the private registry the images reach the servers through (address, the certificate to trust
    # it by, the operator's credentials file); without one they are sent over SSH.
    registry: dict[str, str] = {}

    @model_validator(mode="after")
    def one_list_of_servers(self) -> TargetSpec:
        if self.hosts and self.inventory:
            raise ValueError("give the tiers' servers once: target.hosts or target.inventory, not both")
        if self.runs == "containers" and not self.containers:
            raise ValueError("target.runs: containers: name each service's container in target.containers")
        if self.containers and self.services and set(self.containers) != set(self.services):
            differ = sorted(set(self.containers) ^ set(self.services))
            raise ValueError(f"target.containers and target.services name different services ({', '.join(differ)}): "
                             "name each service's container, and only those")
        if self.containers and not self.host.startswith("ssh://"):
            raise ValueError("target.containers: the containers of a server are read over SSH; give target.host "
                             "as ssh://USER@ADDRESS (the reference stack's own containers come from deploy.sh)")
        return self


class DriverNotes(Strict):
    """What does not apply to a stack run one way (local processes) but does another (containers)."""
    not_applicable: dict[str, str] = {}
    not_applicable_tags: dict[str, str] = {}


class ProfileFile(Strict):
    description: str
    target: TargetSpec

    @field_validator("target", mode="before")
    @classmethod
    def template(cls, value: Any) -> Any:
        return {} if value is None else value  # a template's target: every key still a comment
    load: LoadSettings
    thresholds: dict[str, dict[str, Any]] = {}
    not_applicable: dict[str, str] = {}
    not_applicable_tags: dict[str, str] = {}
    drivers: dict[Literal["local", "compose", "remote"], DriverNotes] = {}


class Profile(Strict):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: str
    specs: Path
    description: str
    target: TargetSpec
    load: LoadSettings
    requirements: dict[str, Requirement]
    relaxed: dict[str, str]
    not_applicable: dict[str, str]
    not_applicable_tags: dict[str, str] = {}
    drivers: dict[str, DriverNotes] = {}

    def for_driver(self, driver: str) -> "Profile":
        """The profile as it applies to the stack found: its driver's not-applicable entries added."""
        notes = self.drivers.get(driver, DriverNotes())
        return self.model_copy(update={"not_applicable": {**self.not_applicable, **notes.not_applicable},
                                       "not_applicable_tags": {**self.not_applicable_tags,
                                                               **notes.not_applicable_tags}})

    limits: dict[str, dict[str, Any]] = {}  # requirement -> key -> Limit | Quantity | value, parsed once at load

    def threshold(self, requirement: str, key: str) -> Any:
        """A threshold as steps use it: a Limit, a Quantity, or the value itself (a parameter)."""
        return self.limits[requirement][key]

    def limit(self, requirement: str, key: str) -> Limit:
        found = self.threshold(requirement, key)
        if not isinstance(found, Limit):
            raise SpecError(f"{requirement}.{key}: {found!r} is not a limit (write a comparator, as '>= 4')")
        return found

    def quantity(self, requirement: str, key: str) -> float:
        """A quantity (or a quantity limit's value) in its dimension's base unit: seconds, bytes, Hz, bit/s, ratio."""
        found = self.threshold(requirement, key)
        found = found.limit if isinstance(found, Limit) else found
        if not isinstance(found, Quantity):
            raise SpecError(f"{requirement}.{key}: {found!r} is not a quantity with a unit")
        return found.value


def _read(path: Path) -> Any:
    if not path.exists():
        raise SpecError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}:{where}: {problem}") from None
    if data is None:
        raise SpecError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _first_error(path: Path, error: ValidationError, prefix: str = "") -> SpecError:
    first = error.errors()[0]
    key = ".".join(str(p) for p in (*([prefix] if prefix else []), *first["loc"]))
    return SpecError(f"{path}: {key}: {first['msg']}")


def load_requirements(specs: Path = SPECS) -> dict[str, Requirement]:
    path = specs / "requirements.yaml"
    catalogue: dict[str, Requirement] = {}
    for rid, body in _read(path).items():
        if not isinstance(body, dict):
            raise SpecError(f"{path}: {rid}: expected a mapping")
        try:
            catalogue[rid] = Requirement(id=rid, **body)
        except ValidationError as error:
            raise _first_error(path, error, rid) from None
        _typed(path, rid, catalogue[rid].thresholds)
    return catalogue


def _typed(path: Path, rid: str, thresholds: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every threshold of a requirement parsed (limits, quantities); a bad comparator or unit names file and key."""
    parsed = {}
    for key, value in thresholds.items():
        try:
            parsed[key] = typed(value, key)
        except UnitError as error:
            raise SpecError(f"{path}: {prefix}{rid}.{key}: {error}") from None
    return parsed


def available_environments(specs: Path = SPECS) -> list[str]:
    return sorted(p.stem for p in (specs / "environments").glob("*.yaml"))


def _apply_thresholds(path: Path, catalogue: dict[str, Requirement],
                      overrides: dict[str, dict[str, Any]]) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for rid, values in overrides.items():
        if rid not in catalogue:
            raise SpecError(f"{path}: thresholds.{rid}: no such requirement in specs/requirements.yaml")
        values = dict(values)
        reason = values.pop("reason", None)
        if not isinstance(reason, str) or not reason.strip():
            raise SpecError(f"{path}: thresholds.{rid}.reason: missing; say why this profile differs from the seed")
        base = catalogue[rid].thresholds
        for key, value in values.items():
            if key not in base:
                raise SpecError(f"{path}: thresholds.{rid}.{key}: unknown threshold (known: {', '.join(base) or 'none'})")
            problem = same_dimension(base[key], value, key)
            if problem:
                raise SpecError(f"{path}: thresholds.{rid}.{key}: {problem}")
            base[key] = value
        reasons[rid] = reason
    return reasons


def load_profile(env: str, specs: Path = SPECS) -> Profile:
    known = available_environments(specs)
    if env not in known:
        raise SpecError(f"unknown environment '{env}': specs/environments has {', '.join(known)}")
    catalogue = copy.deepcopy(load_requirements(specs))
    path = specs / "environments" / f"{env}.yaml"
    try:
        file = ProfileFile.model_validate(_read(path))
    except ValidationError as error:
        raise _first_error(path, error) from None
    relaxed = _apply_thresholds(path, catalogue, file.thresholds)
    listed = [("not_applicable", rid) for rid in file.not_applicable]
    listed += [(f"drivers.{driver}.not_applicable", rid) for driver, notes in file.drivers.items()
               for rid in notes.not_applicable]
    for where, rid in listed:
        if rid not in catalogue:
            raise SpecError(f"{path}: {where}.{rid}: no such requirement in specs/requirements.yaml")
    try:
        parse(file.load.duration)
    except UnitError as error:
        raise SpecError(f"{path}: load.duration: {error}") from None
    limits = {rid: _typed(path, rid, req.thresholds, "thresholds.") for rid, req in catalogue.items()}
    return Profile(name=env, specs=specs, description=file.description, target=file.target, load=file.load,
                   requirements=catalogue, relaxed=relaxed, not_applicable=file.not_applicable,
                   not_applicable_tags=file.not_applicable_tags, drivers=file.drivers, limits=limits)

"""Fixtures and helpers the steps share: the API client, tokens, the suite's own data, cached scans, every host."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from edupro_verify.errors import ProbeError
from edupro_verify.probes import host as host_probe
from edupro_verify.probes import tls
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.probes.http import Api
from edupro_verify.probes.monitoring import Prometheus
from edupro_verify.spec import Profile
from edupro_verify.suite.run import Run
from edupro_verify.targets import Target

T = TypeVar("T")


@pytest.fixture(scope="session")
def api(target: Target, this_run: Run) -> Api:
    return Api(target, purpose=f"EduPro acceptance verification {this_run.id}")


class Tokens:
    """Tokens of the profile's accounts, by role, each logged in once per run. Where the secrets name no account of a
    role (production's QA is handed none), the suite's own account of that role is used: a fixture, with a
    synthetic student record for a student, made through the database and the API and removed at the end."""

    def __init__(self, api: Api, target: Target, fixtures: Callable[[], Fixtures] | None = None) -> None:
        self.api, self.target, self._cache = api, target, {}  # type: ignore[var-annotated]
        self._fixtures = fixtures

    def __getitem__(self, role: str) -> str:
        if role not in self._cache:
            try:
                account = self.target.account(role)
                username, password = account.username, account.password
            except ProbeError:
                if self._fixtures is None or role not in ("administrator", "teacher", "student"):
                    raise
                username, password = self._own_account(role)
            self._cache[role] = self.api.login(username, password)
        return str(self._cache[role])

    def _own_account(self, role: str) -> tuple[str, str]:
        assert self._fixtures is not None
        try:
            person = self._fixtures().stand_in(role, self.api, lambda: self["administrator"])
        except ProbeError as error:
            raise ProbeError(f"no {role} account in the secrets, and the suite could not make its own: {error}") from None
        return person.username, person.password


@pytest.fixture(scope="session")
def tokens(api: Api, target: Target, request: pytest.FixtureRequest) -> Tokens:
    return Tokens(api, target, lambda: request.getfixturevalue("suite_data"))


@pytest.fixture(scope="session")
def suite_data(target: Target, profile: Profile) -> Iterator[Fixtures]:
    data = Fixtures(target, bcrypt_cost=int(profile.threshold("SEC-02", "bcrypt_cost")))
    data.remove_all()
    yield data
    data.remove_all()


@pytest.fixture(scope="session")
def tls_scan(target: Target) -> Any:
    return tls.scan(target.base_url, target.server_name)


@pytest.fixture(scope="session")
def prometheus(target: Target) -> Prometheus:
    return Prometheus(target.prometheus_url)


@pytest.fixture(scope="session")
def effective_settings(api: Api, tokens: Tokens) -> dict[str, Any]:
    response = api.get("/api/v1/admin/settings", tokens["administrator"])
    assert response.status_code == 200, f"an administrator could not read the effective settings ({response.status_code})"
    return dict(response.json())


def on_every_host(target: Target, probe_one: Callable[[Any], T]) -> dict[str, T]:
    """The same probe on every host of the target at once (one thread each); label -> result."""
    hosts = target.hosts
    with ThreadPoolExecutor(len(hosts)) as pool:
        return dict(zip(hosts, pool.map(probe_one, hosts.values()), strict=True))


def every_host(results: dict[str, T], check: Callable[[str, T], None]) -> None:
    """CHECK on each host's result (its label is the measurement's source); one failing host does not hide
    another: all are named in one line."""
    failures = []
    for label, result in results.items():
        try:
            check(label, result)
        except AssertionError as error:  # the sentence is the first line; evidence.expect names the host
            failures.append(str(error).splitlines()[0])
    assert not failures, "; ".join(failures)


def data_volume(target: Target) -> host_probe.Volume:
    """The volume holding the stack's data where the profile names its folders, else the host's root volume."""
    folder = target.paths.get("backups") or target.paths.get("logs")
    return host_probe.volume(target.host_of("backups" if "backups" in target.paths else "logs"),
                             str(folder.parent if folder else "/"))

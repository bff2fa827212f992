"""Fixtures the steps share: the API client, tokens, the suite's own data, cached scans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edupro_verify.probes import tls
from edupro_verify.probes.fixtures import Fixtures
from edupro_verify.probes.http import Api
from edupro_verify.probes.monitoring import Prometheus
from edupro_verify.spec import Profile
from edupro_verify.targets import Target
from edupro_verify.units import parse


def quantity(profile: Profile, requirement: str, key: str) -> float:
    """A threshold in its dimension's base unit (seconds, bytes, Hz, bit/s, ratio)."""
    return parse(str(profile.threshold(requirement, key))).value


@pytest.fixture(scope="session")
def api(target: Target, run_info: dict[str, Any]) -> Api:
    return Api(target, purpose=f"EduPro acceptance verification {run_info['id']}")


class Tokens:
    """Tokens of the profile's accounts, by role, each logged in once per run."""

    def __init__(self, api: Api, target: Target) -> None:
        self.api, self.target, self._cache = api, target, {}  # type: ignore[var-annotated]

    def __getitem__(self, role: str) -> str:
        if role not in self._cache:
            account = self.target.account(role)
            self._cache[role] = self.api.login(account.username, account.password)
        return str(self._cache[role])


@pytest.fixture(scope="session")
def tokens(api: Api, target: Target) -> Tokens:
    return Tokens(api, target)


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

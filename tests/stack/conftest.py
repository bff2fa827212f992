"""The running reference stack, brought up once for the tests that need it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from playwright.sync_api import Browser, sync_playwright

from tests.helpers import deploy, status

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    result = deploy("up")
    assert result.returncode == 0, result.stderr
    return status()


@pytest.fixture(scope="session")
def accounts(stack: dict[str, Any]) -> dict[str, dict[str, str]]:
    listed = json.loads(Path(stack["paths"]["demo_accounts"]).read_text())
    return {a["role"]: a for a in listed}


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **kwargs.pop("headers", {})}
        return self.session.request(method, self.base + path, headers=headers, verify=False, timeout=15, **kwargs)

    def login(self, account: dict[str, str]) -> str:
        response = self.call("POST", "/api/v1/login/access-token",
                             data={"username": account["username"], "password": account["password"]})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def client(stack: dict[str, Any]) -> Client:
    return Client(stack["base_url"])


@pytest.fixture(scope="session")
def token(client: Client, accounts: dict[str, dict[str, str]]) -> dict[str, str]:
    return {role: client.login(account) for role, account in accounts.items()}


CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, one per test module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()

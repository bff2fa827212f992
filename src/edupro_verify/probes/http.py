"""The EduPro API as a client sees it, through the public proxy."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from ..errors import ProbeError, request_failure
from ..targets import Target

PURPOSE_HEADER = "X-Disclosure-Purpose"
RATE_WINDOW_SECONDS = 60.0  # a per-minute limit's window: the longest a 429 of it lasts


class Api:
    def __init__(self, target: Target, purpose: str = "EduPro acceptance verification") -> None:
        self.base = target.base_url
        self.session = target.http()
        self.purpose = purpose

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {PURPOSE_HEADER: self.purpose, **kwargs.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(method, f"{self.base}{path}", headers=headers, timeout=15, verify=False,
                                        **kwargs)
        except requests.RequestException as error:
            raise ProbeError(f"{method} {path} got no answer: {request_failure(error)}") from None

    def request_past_limit(self, method: str, path: str, token: str | None = None,
                           **kwargs: Any) -> tuple[requests.Response, float]:
        """A request whose answer is judged on what it says, never on a rate limit the suite's own requests filled
        (the load test's, or an earlier check's, all from this machine's address): a 429 is waited out for as long
        as its Retry-After says (a minute's window at most) and the request sent again. The seconds waited are
        returned; a 429 after that is the target's own answer."""
        response = self.request(method, path, token, **kwargs)
        if response.status_code != 429:
            return response, 0.0
        retry_after = response.headers.get("Retry-After", "")
        wait = min(float(retry_after) if retry_after.isdigit() else RATE_WINDOW_SECONDS, RATE_WINDOW_SECONDS) + 1
        time.sleep(wait)
        return self.request(method, path, token, **kwargs), wait

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, token, **kwargs)

    def login(self, username: str, password: str) -> str:
        response = self.post("/api/v1/login/access-token", data={"username": username, "password": password})
        if response.status_code != 200:
            raise ProbeError(f"log-in as {username} answered {response.status_code}; check the account in the secrets")
        return str(response.json()["access_token"])


def plain_http(url: str, path: str) -> requests.Response:
    """One request over plain HTTP, redirects not followed (to see where it sends a client)."""
    try:
        return requests.get(f"{url}{path}", allow_redirects=False, timeout=5)
    except requests.RequestException as error:
        raise ProbeError(f"{url} is unreachable ({request_failure(error)})") from None


@dataclass
class ProbeCount:
    requests: int = 0
    failures: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    first_failure: str = ""
    kinds: Counter[str] = field(default_factory=Counter)  # each failure in words: what the probe saw

    def failed_how(self) -> str:
        """The failures by kind: each request opens its own connection, so a connection closed unanswered is one
        the server accepted and dropped (not a client reusing a kept-alive connection a reload closed)."""
        return "; ".join(f"{n} × {kind}" for kind, n in self.kinds.most_common())


class ContinuousProbe:
    """Requests sent back to back through the proxy while something happens (a release, a rollback)."""

    def __init__(self, target: Target, path: str = "/version", pause: float = 0.01) -> None:
        self.url = f"{target.base_url}{path}"
        self.session = target.http()
        self.pause = pause
        self.count = ProbeCount()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.count.requests += 1
            try:
                # A fresh connection per request: with keep-alive, a reload that closes an idle connection
                # just as the client reuses it aborts a request the server never received (browsers
                # retry those); a new connection each time measures what the server does with requests.
                response = self.session.get(self.url, timeout=5, verify=False, headers={"Connection": "close"})
                if response.status_code != 200:
                    raise ValueError(f"answered with status {response.status_code}")
                self.count.seen[str(response.json().get("colour"))] += 1
            except (requests.RequestException, ValueError) as error:
                kind = request_failure(error) if isinstance(error, requests.RequestException) else str(error)
                self.count.failures += 1
                self.count.kinds[kind] += 1
                self.count.first_failure = self.count.first_failure or kind
            time.sleep(self.pause)

    def __enter__(self) -> "ContinuousProbe":
        self._thread.start()
        time.sleep(0.5)  # requests are flowing before the change starts
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)
        self._stop.set()
        self._thread.join()

"""The student journey under load: log in once, then read the own record and ask for a prediction, with a
wait of 1–3 s after each request (a person reads the answer before the next click): about 30 requests a minute,
half the per-user rate limit (SEC-03). A journey that waited only after both requests averaged 60 a minute, the
limit itself, so the faster the stack answered, the more of its requests were refused with 429.

Accounts come from the JSON file named by EDUPRO_LOAD_ACCOUNTS (the suite's own fixture accounts).
Run by load/run.py, in library mode or as a Locust master with local workers.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from gevent.event import Event
from locust import SequentialTaskSet, between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser
from locust.runners import Runner, WorkerRunner

_ACCOUNTS = json.loads(open(os.environ["EDUPRO_LOAD_ACCOUNTS"]).read()) if os.environ.get("EDUPRO_LOAD_ACCOUNTS") else []
# A distributed run gives each worker its own share of the accounts (EDUPRO_LOAD_SHARE="index/count"), so no
# account is used by two users at once.
_INDEX, _COUNT = (int(n) for n in os.environ.get("EDUPRO_LOAD_SHARE", "0/1").split("/"))
_ACCOUNTS = _ACCOUNTS[_INDEX::_COUNT]
_NEXT = itertools.count()
LOGIN = "login"

# A user starts the journey once load/run.py says every user of the run has logged in: the journey then measures
# the API under its users' steady load, not queued behind the log-ins' bcrypt (a quarter of a second of CPU each,
# by design). load/run.py sends READY to its own runner, or as a Locust master to every worker.
READY = "edupro-every-user-logged-in"
_EVERYONE_LOGGED_IN = Event()


def listen_for_ready(runner: Runner) -> None:
    runner.register_message(READY, lambda **_: _EVERYONE_LOGGED_IN.set())


@events.init.add_listener
def _on_worker_start(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        listen_for_ready(environment.runner)


class Journey(SequentialTaskSet):
    """The two requests in turn, the user's wait after each."""

    @task
    def read_own_record(self) -> None:
        self.client.get("/api/v1/students/me", headers=self.user.headers, name="/api/v1/students/me")

    @task
    def ask_for_prediction(self) -> None:
        self.client.post("/api/v1/predictions", headers=self.user.headers, json={"student_id": self.user.student_id},
                         name="/api/v1/predictions")


class Student(FastHttpUser):
    wait_time = between(1, 3)
    tasks = [Journey]
    insecure = True

    def on_start(self) -> None:
        account = _ACCOUNTS[next(_NEXT) % len(_ACCOUNTS)]
        self.student_id = account["student_id"]
        with self.client.post("/api/v1/login/access-token", name=LOGIN, catch_response=True,
                              data={"username": account["username"], "password": account["password"]}) as response:
            if response.status_code != 200:
                response.failure(f"log-in answered {response.status_code}")
                # A user who could not log in leaves: requests without a token would fill the per-address rate
                # limit that the suite's own later checks (SEC-01) are sent under.
                raise StopUser()
            token = response.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}", "X-Disclosure-Purpose": "EduPro acceptance load test"}
        _EVERYONE_LOGGED_IN.wait()
        self.wait()  # a think time before the first request too, so the users do not start all at once

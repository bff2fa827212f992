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

from locust import SequentialTaskSet, between, task
from locust.contrib.fasthttp import FastHttpUser

_ACCOUNTS = json.loads(open(os.environ["EDUPRO_LOAD_ACCOUNTS"]).read()) if os.environ.get("EDUPRO_LOAD_ACCOUNTS") else []
# A distributed run gives each worker its own share of the accounts (EDUPRO_LOAD_SHARE="index/count"), so no
# account is used by two users at once.
_INDEX, _COUNT = (int(n) for n in os.environ.get("EDUPRO_LOAD_SHARE", "0/1").split("/"))
_ACCOUNTS = _ACCOUNTS[_INDEX::_COUNT]
_NEXT = itertools.count()
LOGIN = "login"


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
                self.headers = {}
                return
            token = response.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}", "X-Disclosure-Purpose": "EduPro acceptance load test"}

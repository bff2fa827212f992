"""2. Stack capacity: the student journey (load/locustfile.py, FastHttpUser, 1–3 s waits) stepped up until
p95 crosses the SLA or errors pass 1 %; what one backend process serves of the journey's two requests (wrk
straight at it); beside them, this machine's ceiling measured with wrk, and a bare FastAPI app to compare with."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from edupro_verify.probes import load
from edupro_verify.probes.fixtures import Fixtures, Person
from edupro_verify.probes.http import Api
from edupro_verify.spec import load_profile, load_requirements
from edupro_verify.targets import Target, resolve
from edupro_verify.units import parse_limit

from .common import Figure, progress

STEPS_QUICK = [50]
STEPS_FULL = [100, 250, 500, 1000, 1500, 2000]
# Users are added at the pace this machine can log them in: bcrypt at cost 12 takes a quarter of a second
# of CPU per log-in, about 7 a second on 2 cores with nothing else to do; a faster storm only measures the log-in queue.
SPAWN_RATE = 4
JOURNEY_SCRIPT = Path(__file__).with_name("journey_direct.lua")
LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", re.MULTILINE)


def capacity(quick: bool) -> list[Figure]:
    seed = load_requirements()  # the paper's numbers, not a profile's relaxed ones
    sla_ms = parse_limit(seed["PERF-01"].thresholds["max_p95"]).limit.value * 1000
    max_errors = parse_limit(seed["PERF-02"].thresholds["max_error_rate"]).limit.value
    seconds = 10 if quick else 30
    target = resolve(load_profile("development"))
    data = Fixtures(target)
    api = Api(target, purpose="EduPro capacity benchmark")
    host, port = target.inventory.live_instances()[0]
    backend_url = f"http://{host}:{port}"  # one instance of the live colour, straight (no nginx, no TLS)
    held: dict[str, Any] | None = None
    figures: list[Figure] = []
    try:
        admin = target.account("administrator")
        token = api.login(admin.username, admin.password)
        students = [data.student(token, api, f"Bench Fixture {n}", f"bench{n}.{data.tag}@synthetic.edupro.invalid")
                    for n in range(10)]
        steps = STEPS_QUICK if quick else STEPS_FULL
        accounts = data.accounts(max(steps), students)
        progress(f"capacity: steps of {steps} users, {seconds} s each, {SPAWN_RATE} new users a second; "
                 f"a teacher opens a class in Chromium every {ClassPageTimer.EVERY} s meanwhile")
        with ClassPageTimer(target.base_url, target.account("teacher")) as timer:
            for result in step_test(target.base_url, accounts, steps, seconds):
                users = result["users"]
                figures.append(Figure(f"capacity_step_{users}_users",
                                      f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, "
                                      f"{result['requests_per_second']:.0f} req/s, errors {result['error_rate']:.2%}, "
                                      f"log-in p95 {result['login_p95_ms']} ms"))
                figures.append(Figure(f"class_page_{users}_users", timer.during(time.monotonic() - seconds)))
                progress(f"capacity: {figures[-2].line()}; {figures[-1].line()}")
                if result["p95_ms"] > sla_ms or result["error_rate"] > max_errors:
                    break
                held = result
        figures += one_instance(target, accounts, backend_url, quick)
    finally:
        data.remove_all()
    if held:
        figures += [Figure("capacity_users_held", held["users"]), Figure("capacity_p95", held["p95_ms"], "ms"),
                    Figure("capacity_p99", held["p99_ms"], "ms"),
                    Figure("capacity_requests_per_second", held["requests_per_second"], "req/s")]
    else:
        figures.append(Figure("capacity_users_held", 0))
    return figures + ceiling(target.base_url, backend_url, quick)


class ClassPageTimer(threading.Thread):
    """While the load runs: every EVERY seconds a teacher opens their first class in Chromium (Debian's) and the
    time until the table's rows show is sampled (the class list is one request that records a disclosure per
    student shown). during(since) summarises the samples taken since a monotonic time."""

    EVERY = 5

    def __init__(self, base_url: str, teacher: Any) -> None:
        super().__init__(daemon=True)
        self.base_url, self.teacher = base_url, teacher
        self.samples: list[tuple[float, float]] = []
        self.problem = ""
        self.stop = threading.Event()

    def __enter__(self) -> "ClassPageTimer":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.join(timeout=60)

    def run(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                     args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(ignore_https_errors=True)
                page.goto(self.base_url + "/")
                page.get_by_label("User name").fill(self.teacher.username)
                page.get_by_label("Password").fill(self.teacher.password)
                page.get_by_role("button", name="Sign in").click()
                page.locator("main ul a").first.wait_for(timeout=60000)
                class_url = self.base_url + str(page.locator("main ul a").first.get_attribute("href"))
                while not self.stop.wait(self.EVERY):
                    started = time.monotonic()
                    page.goto(class_url)
                    page.locator("[data-testid=class-table] tbody tr").first.wait_for(timeout=60000)
                    self.samples.append((started, time.monotonic() - started))
                browser.close()
        except Error as error:
            self.problem = str(error).splitlines()[0][:120]

    def during(self, since: float) -> str:
        times = sorted(seconds for at, seconds in self.samples if at >= since)
        if not times:
            return f"not measured ({self.problem or 'no sample in the window'}; {len(self.samples)} in all)"
        return f"median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s ({len(times)} loads of the class table)"


def one_instance(target: Target, accounts: list[Person], backend_url: str, quick: bool) -> list[Figure]:
    """The journey's two requests straight at one backend process (no nginx, no TLS, no Locust): what one
    process serves, with tokens minted from the stack's own secret for every account (so the per-user limit is
    not what is measured). A benchmark of our own stack, never a check: it needs the JWT secret."""
    if not target.secrets.jwt_secret:
        return [Figure("one_instance_not_measured", "no JWT secret for this stack")]
    with target.connect_db() as conn:
        ids = dict(conn.execute("SELECT username, id FROM users WHERE username = ANY(%s)",
                                ([a.username for a in accounts],)).fetchall())
    expires = datetime.now(UTC) + timedelta(minutes=30)
    lines = [f"{jwt.encode({'sub': str(ids[a.username]), 'exp': expires}, target.secrets.jwt_secret, 'HS256')} "
             f"{a.student_id}" for a in accounts]
    seconds = 3 if quick else 10
    progress(f"one instance: wrk straight at {backend_url}, {len(lines)} accounts, 16 connections, {seconds} s a path")
    figures = []
    with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
        tokens.write("\n".join(lines) + "\n")
        tokens.flush()
        for name, path in (("students_me", "/api/v1/students/me"), ("predictions", "/api/v1/predictions")):
            rate, latencies = _wrk(f"{backend_url}{path}", seconds, "-t1", "-c16",
                                   script=[str(JOURNEY_SCRIPT), tokens.name, path])
            figures += [Figure(f"one_instance_{name}", rate, "req/s"), Figure(f"one_instance_{name}_latency", latencies)]
    return figures


def step_test(base_url: str, accounts: list[Person], steps: list[int], seconds: int) -> Iterator[dict[str, Any]]:
    """load/run.py with every step at once: one process, users added step by step, a JSON line per step."""
    with load.runner_environment(accounts) as env, subprocess.Popen(
            [sys.executable, str(load.RUNNER), "--host", base_url, "--users", ",".join(map(str, steps)),
             "--spawn-rate", str(SPAWN_RATE), "--seconds", str(seconds)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                yield json.loads(line)
        finally:
            proc.terminate()


def _wrk(url: str, seconds: int, *options: str, script: list[str] | None = None) -> tuple[float, str]:
    """req/s and "p50 … / p99 …" (and the answers that were not 2xx, if any); OPTIONS replace -t2 -c64, SCRIPT is
    a Lua script and its arguments."""
    scripted = ["-s", script[0], url, "--", *script[1:]] if script else [url]
    result = subprocess.run(["wrk", *(options or ("-t2", "-c64")), f"-d{seconds}s", "--latency", *scripted],
                            capture_output=True, text=True)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    latencies = " / ".join(f"p{m[0]} {m[1]} {m[2]}" for m in LATENCY.findall(result.stdout))
    return (float(rate.group(1)) if rate else float("nan")), latencies + (f", {refused.group(1)} not 2xx" if refused else "")


def ceiling(base_url: str, backend_url: str, quick: bool) -> list[Figure]:
    seconds = 3 if quick else 15
    progress("ceiling: wrk against nginx (static file over TLS), the backend's /health directly and a bare FastAPI app")
    static, static_latency = _wrk(f"{base_url}/index.html", seconds)
    health, health_latency = _wrk(f"{backend_url}/health", seconds)
    with bare_app() as bare_url:
        bare, bare_latency = _wrk(f"{bare_url}/health", seconds)
    return [Figure("wrk_nginx_static_tls", static, "req/s"), Figure("wrk_nginx_static_tls_latency", static_latency),
            Figure("wrk_backend_health", health, "req/s"), Figure("wrk_backend_health_latency", health_latency),
            Figure("wrk_bare_fastapi", bare, "req/s"), Figure("wrk_bare_fastapi_latency", bare_latency),
            Figure("backend_health_vs_bare", round(bare / health, 2) if health else float("nan"), "x slower")]


@contextmanager
def bare_app() -> Iterator[str]:
    """bench/bare_app.py under uvicorn as the backend runs (one worker, no access log), on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port", str(port),
                           "--no-access-log", "--log-level", "warning", "--workers", "1"],
                          cwd=Path(__file__).parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with socket.socket() as client:
                    if client.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()

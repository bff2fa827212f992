"""3. Deploy time: cold `up` (packages installed, no run directory), warm `up` (stopped stack), `up` of a
running stack, and `down`. Timed in a scratch run directory, so the stack's own data is never touched."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from .common import REPO, Figure, deploy, progress


def _running() -> bool:
    result = subprocess.run([str(REPO / "deploy.sh"), "status", "--json"], capture_output=True, text=True)
    return result.returncode == 0 and json.loads(result.stdout)["services"]["proxy"]["state"] == "running"


def deploy_time(quick: bool) -> list[Figure]:
    was_running = _running()
    if was_running:
        progress("deploy time: stopping the stack (its run directory is kept) to time a scratch one")
        deploy("down")
    scratch = Path(tempfile.mkdtemp(prefix="edupro-bench-run-"))
    scratch.chmod(0o755)  # the services run as the edupro user and must reach their run directory
    env = {"EDUPRO_RUN_DIR": str(scratch / "run")}
    try:
        progress("deploy time: cold up (no run directory)")
        cold = deploy("up", env=env)
        running = deploy("up", env=env)
        down = deploy("down", env=env)
        progress("deploy time: warm up (stopped stack)")
        warm = deploy("up", env=env)
        deploy("down", env=env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if was_running:
            progress("deploy time: bringing the stack back up")
            deploy("up")
    figures = [Figure("deploy_cold_up", cold, "s"), Figure("deploy_warm_up", warm, "s"),
               Figure("deploy_up_when_running", running, "s"), Figure("deploy_down", down, "s")]
    return figures + (compose_time() if not quick else [Figure("deploy_compose_driver", "timed in full mode only")])


def compose_time() -> list[Figure]:
    """The compose driver beside it (up, status, down only so far), publishing on 9443/9080 so the local
    stack keeps its ports. Images already built are reused: a first build is timed by hand (README)."""
    ports = {"HTTPS_PORT": "9443", "HTTP_PORT": "9080"}
    progress("deploy time: compose driver up (containers, the paper's health-check intervals)")
    up = deploy("up", "--driver", "compose", env=ports)
    down = deploy("down", "--driver", "compose", env=ports)
    return [Figure("deploy_compose_up_images_built", up, "s"), Figure("deploy_compose_down", down, "s")]

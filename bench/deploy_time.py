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
    return [Figure("deploy_cold_up", cold, "s"), Figure("deploy_warm_up", warm, "s"),
            Figure("deploy_up_when_running", running, "s"), Figure("deploy_down", down, "s"),
            Figure("deploy_compose_driver", "not built yet (issue 7)")]

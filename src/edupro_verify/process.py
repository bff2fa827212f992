"""A program the suite runs that an interrupted run stops, with everything it started (a load generator and its
workers, the deployment's own tool and its SSH sessions): each runs in a session of its own."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run(command: Sequence[str], timeout: float, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """COMMAND's exit code and output; on a timeout or an interruption its whole session is stopped, then the
    exception goes on (subprocess.TimeoutExpired, KeyboardInterrupt)."""
    child = subprocess.Popen(list(command), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except BaseException:
        stop(child)
        raise
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def stop(child: subprocess.Popen[str], grace: float = 5) -> None:
    """The child's whole session: SIGTERM, then SIGKILL after GRACE seconds."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, signum)
            child.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue

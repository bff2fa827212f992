"""Starting, watching and stopping the stack's daemons as the unprivileged service user."""

from __future__ import annotations

import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

SERVICE_USER = "edupro"


class StackError(Exception):
    """Something the operator must fix; the message says what and how."""


def service_user() -> pwd.struct_passwd:
    """Root runs the stack as `edupro` (PostgreSQL refuses root); anyone else as themselves."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                       check=True)
        return pwd.getpwnam(SERVICE_USER)


def give(path: Path, mode: int | None = None) -> None:
    """Hand a file or directory (recursively) to the service user."""
    user = service_user()
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in paths:
        os.chown(item, user.pw_uid, user.pw_gid, follow_symlinks=False)
    if mode is not None:
        path.chmod(mode)


def as_service_user(command: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    return ["runuser", "-u", SERVICE_USER, "--", *command]


def run(command: Sequence[str], env: dict[str, str] | None = None, what: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), env=env, text=True, capture_output=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise StackError(f"{what or command[0]} failed: {detail[-1] if detail else 'exit ' + str(result.returncode)}")
    return result


@contextmanager
def one_at_a_time(lock: Path) -> Iterator[None]:
    """Hold LOCK while building something stacks share (the frontend, the base image, the wheelhouse): the project's
    test groups run side by side, and a second build waits for the first, then finds it done."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise StackError(f"{what} did not open {host}:{port} within {seconds:.0f} s; see its log in run/logs")


def holder(port: int) -> str | None:
    """What listens on a TCP port, as `ss` names it ("nginx (pid 3855)"), "something" when ss cannot tell,
    or None when nothing listens."""
    found = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        return None
    match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', found.stdout)
    return f"{match.group(1)} (pid {match.group(2)})" if match else "something"


def require_free(host: str, port: int, what: str) -> None:
    if port_open("127.0.0.1" if host in ("0.0.0.0", "::") else host, port):
        raise StackError(f"port {port} is already in use by {holder(port) or 'something'}, so {what} cannot start; "
                         "stop it (a local EduPro stack: ./deploy.sh down) or change the port in stack/config")


def start_daemon(name: str, command: Sequence[str], pids: Path, log: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None, drop_privileges: bool = True) -> int:
    """Start a foreground-style daemon in its own session; its pid goes to pids/<name>.pid."""
    pids.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    # Privileges are dropped in the child itself (not through runuser), so the pid file names the daemon.
    user = service_user() if drop_privileges and os.geteuid() == 0 else None
    with open(log, "ab") as out:
        process = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=cwd, start_new_session=True,
                                   user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                                   extra_groups=[] if user else None)
    (pids / f"{name}.pid").write_text(str(process.pid))
    return process.pid


def pid_of(name: str, pids: Path) -> int | None:
    try:
        pid = int((pids / f"{name}.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def stop_daemon(name: str, pids: Path, seconds: float = 15) -> None:
    """SIGTERM the daemon's whole process group, then SIGKILL what is left."""
    stop_daemons([name], pids, seconds)


def stop_daemons(names: list[str], pids: Path, seconds: float = 15) -> None:
    """Stop several daemons at once: all are signalled first, then waited for together."""
    running = [pid for pid in (pid_of(name, pids) for name in names) if pid is not None]
    for pid in running:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in running):
        time.sleep(0.05)
    for pid in running:
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
    for name in names:
        (pids / f"{name}.pid").unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, its parent not yet reaping it) answers kill(0) but runs nothing
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def which(program: str, *extra_dirs: str) -> str:
    found = shutil.which(program, path=os.pathsep.join([*extra_dirs, os.environ.get("PATH", "")]))
    if not found:
        raise StackError(f"{program} is not installed; run ./deploy.sh up as root to install it, "
                         f"or apt-get install the package that provides it")
    return found

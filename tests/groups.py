"""`./deploy.sh test`: the project's tests in groups, side by side where they do not disturb each other.

    python -m tests.groups [--group NAME ...] [PYTEST ARGS]    every group (or those named), then the table
    python -m tests.groups --list                               the groups and what each runs

Each group is one pytest with a stack of its own (its own run directory and port offset, made afresh), its
output in .test-logs/GROUP.log. Groups run in two lanes side by side, each lane's groups one after another; the
tests marked `quiet` (they measure time or put the machine under load) run last, alone. A group whose tests edit the checkout (the faults) runs in a copy of it, so the other groups'
deploys never read a fault. At the end: each failed group's failures, the fault tally of all groups, and a
table of group, tests, wall time, CPU time and result. A group's CPU time is its pytest and every process it
started, the stack's servers included (each group's runner adopts the servers that outlive their parent and
reaps them when its stack goes down); the CPU time of containers is Docker's and not counted. Nothing a group
started is left running: its stack is taken down, and a process still alive after that is named (and stopped),
which fails the group.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / ".test-logs"
QUIET_VARIABLE = "EDUPRO_TEST_QUIET"  # "only": the quiet tests; "none": all but them (tests/conftest.py)


@dataclass(frozen=True)
class Group:
    name: str
    paths: tuple[str, ...]
    run_dir: str
    port_offset: int
    lane: str  # groups of one lane run one after another, lanes side by side; "alone" runs after every lane
    quiet: str = "none"  # which of the quiet tests it runs
    own_checkout: bool = False  # its tests edit the checkout (a fault in stack/config, a route, a migration)
    pytest_args: tuple[str, ...] = ()

    def env(self) -> dict[str, str]:
        env = {**os.environ, "EDUPRO_RUN_DIR": str(REPO / self.run_dir),
               "EDUPRO_PORT_OFFSET": str(self.port_offset), QUIET_VARIABLE: self.quiet}
        if self.own_checkout:  # the suite of the copy (it reads the checkout it runs from), not the virtualenv's
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.checkout / "src"), env.get("PYTHONPATH")]))
        return env

    @property
    def checkout(self) -> Path:
        return REPO / self.run_dir / "checkout" if self.own_checkout else REPO


# Two lanes of about equal length: the local stacks (the faults, then the live-stack and unit tests) and the
# servers (the lab, which mostly waits on SSH and cron minutes, then the containers). What judges load or time is
# left to the quiet group, alone at the end: beside another lane, a figure would be the machine's, not the stack's.
# Port offsets are whole thousands (no two of a stack's ports are a multiple of 1,000 apart) and keep every port
# below 32768, where ephemeral ports begin.
GROUPS = (
    Group("faults", ("tests/faults",), ".test-faults", 21000, lane="local", own_checkout=True),
    Group("stack", ("tests/unit", "tests/stack"), ".test-stack", 20000, lane="local"),
    Group("lab", ("tests/lab",), ".test-lab", 19000, lane="servers"),
    Group("compose", ("tests/compose",), ".test-compose", 23000, lane="servers"),
    # -rP: what its passing tests printed (the bench's figures) stays in its log
    Group("quiet", ("tests",), ".test-quiet", 22000, lane="alone", quiet="only", pytest_args=("-rP",)),
)


@dataclass
class Outcome:
    group: Group
    returncode: int = -1
    wall: float = 0.0
    cpu: float = 0.0
    tests: int = 0
    failed: int = 0
    left_running: tuple[str, ...] = ()

    @property
    def result(self) -> str:
        if self.left_running:
            return f"left {len(self.left_running)} running"
        if self.returncode == 5 or (self.returncode == 0 and not self.tests):
            return "no tests"
        return "passed" if self.returncode == 0 else f"{self.failed} failed" if self.failed else "error"

    @property
    def ok(self) -> bool:
        return self.result in ("passed", "no tests")


def log(group: Group) -> Path:
    return LOGS / f"{group.name}.log"


# --- one group (python -m tests.groups one NAME ARGS): its pytest, its stack down, nothing left ---

def _become_subreaper() -> None:
    """Servers that outlive the command that started them (the stack's daemons) become this process's children,
    so their CPU time is the group's and what is still alive at the end can be found."""
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _stack_down(group: Group) -> None:
    run_dir = REPO / group.run_dir
    if not run_dir.exists():
        return
    env = {**group.env(), "PYTHONPATH": f"{REPO}/stack/ops:{REPO}/stack/backend"}
    for driver in ("local", "compose"):
        if driver == "compose" and not (run_dir / "compose" / "state.json").exists():
            continue
        subprocess.run([sys.executable, "-m", "edupro_stack.cli", "down", "--driver", driver], env=env, cwd=REPO,
                       capture_output=True, check=False, timeout=300)


def _children() -> list[tuple[int, str]]:
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(me) and fields.get("State", "").strip()[:1] != "Z":
            found.append((int(entry.name), command[:120]))
    return found


def _wait_reaping(pid: int) -> int:
    """PID's exit code; meanwhile every adopted server that ends is reaped at once (a stopped daemon must not
    linger as a zombie, which its pid file would still name as running)."""
    while True:
        try:
            ended, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        if ended == pid:
            return os.waitstatus_to_exitcode(status)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _copy_checkout(group: Group) -> None:
    """The working tree as git lists it (tracked and new files, as they are now), sharing the pinned virtualenv
    and the built frontend."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    copied = [name for name in filter(None, listed) if (REPO / name).is_file()]
    for name in copied:
        (group.checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, group.checkout / name)
    for shared in (".venv", "stack/frontend/dist", "stack/frontend/node_modules"):
        if (REPO / shared).exists():
            (group.checkout / shared).symlink_to(REPO / shared)
    # its own index of the same files: what the suite's `git grep` for committed secrets reads
    subprocess.run(["git", "init", "-q"], cwd=group.checkout, check=True)
    subprocess.run(["git", "add", "--", *copied], cwd=group.checkout, check=True,
                   capture_output=True)


def run_one(name: str, args: list[str]) -> int:
    group = next(g for g in GROUPS if g.name == name)
    _become_subreaper()
    _stack_down(group)  # the last run's stack, if one was left: each group starts from nothing
    shutil.rmtree(REPO / group.run_dir, ignore_errors=True)
    if group.own_checkout:
        _copy_checkout(group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches pytest, which stops; then the stack goes down
    pytest = subprocess.Popen([sys.executable, "-m", "pytest", *group.paths, "-v", "-p", "no:cacheprovider",
                               f"--junitxml={LOGS / (group.name + '.xml')}", *group.pytest_args, *args],
                              cwd=group.checkout,
                              env=group.env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    returncode = _wait_reaping(pytest.pid)
    _stack_down(group)
    _reap()
    deadline = time.monotonic() + 5
    while _children() and time.monotonic() < deadline:
        time.sleep(0.2)
        _reap()
    left = _children()
    for pid, command in left:
        print(f"left running by the group, stopped now: pid {pid}: {command}", flush=True)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    _reap()
    (LOGS / f"{group.name}.left").write_text(json.dumps([command for _, command in left]))
    return returncode


# --- every group (python -m tests.groups [--group NAME ...] ARGS): side by side, then alone, then the table ---

def _start(group: Group, args: list[str]) -> tuple[int, float]:
    with log(group).open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "tests.groups", "one", group.name, *args], cwd=REPO,
                                   stdout=out, stderr=subprocess.STDOUT)
    return process.pid, time.monotonic()


def _counts(group: Group) -> tuple[int, int]:
    try:
        suites = ElementTree.parse(LOGS / f"{group.name}.xml").getroot()
    except (OSError, ElementTree.ParseError):
        return 0, 0
    suite = suites if suites.tag == "testsuite" else suites.find("testsuite")
    if suite is None:
        return 0, 0
    total = int(suite.get("tests", 0)) - int(suite.get("skipped", 0))
    return total, int(suite.get("failures", 0)) + int(suite.get("errors", 0))


def _progress(group: Group) -> str:
    try:
        with log(group).open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return "starting"
    found = re.findall(r"\[\s*(\d+)%\]", tail)
    return f"{found[-1]}%" if found else "starting"


def _run_lanes(lanes: list[list[Group]], args: list[str], outcomes: dict[str, Outcome], began: float) -> None:
    """Each lane's groups one after another, the lanes side by side; a line when a group ends, and every two
    minutes where each running group is."""
    waiting = [list(lane) for lane in lanes if lane]
    running: dict[int, tuple[Group, float, list[Group]]] = {}
    for lane in waiting:
        group = lane.pop(0)
        pid, started = _start(group, args)
        running[pid] = (group, started, lane)
    print(f"{_minutes(time.monotonic() - began)}  started: {', '.join(g.name for g, _, _ in running.values())} "
          f"(output in {LOGS.relative_to(REPO)}/)", flush=True)
    last_word = time.monotonic()
    while running:
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid in running:
            group, started, lane = running.pop(pid)
            outcome = outcomes[group.name]
            outcome.returncode = os.waitstatus_to_exitcode(status)
            outcome.wall = time.monotonic() - started
            outcome.cpu = usage.ru_utime + usage.ru_stime
            outcome.tests, outcome.failed = _counts(group)
            left = LOGS / f"{group.name}.left"
            outcome.left_running = tuple(json.loads(left.read_text())) if left.exists() else ()
            print(f"{_minutes(time.monotonic() - began)}  {group.name}: {outcome.result}, {outcome.tests} tests in "
                  f"{_minutes(outcome.wall)}" + (f"; next: {lane[0].name}" if lane else ""), flush=True)
            if lane:
                following = lane.pop(0)
                new_pid, new_start = _start(following, args)
                running[new_pid] = (following, new_start, lane)
            continue
        if time.monotonic() - last_word >= 120:
            last_word = time.monotonic()
            print(f"{_minutes(last_word - began)}  " + " · ".join(f"{g.name} {_progress(g)}" for g, _, _ in running.values()),
                  flush=True)
        time.sleep(1)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _failures(group: Group, limit: int = 400) -> list[str]:
    """What a failed group's pytest said from its first failure on (CI shows only the terminal)."""
    lines = log(group).read_text(errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"=+ (FAILURES|ERRORS) =+", line)), None)
    if start is None:
        start = max(0, len(lines) - 60)
    return lines[start:start + limit]


def _tally(groups: list[Group]) -> str | None:
    injected = caught = missed = 0
    for group in groups:
        text = log(group).read_text(errors="replace") if log(group).exists() else ""
        for found in re.finditer(r"^faults: (\d+) injected, (\d+) caught, (\d+) missed", text, re.MULTILINE):
            injected, caught, missed = injected + int(found[1]), caught + int(found[2]), missed + int(found[3])
    return f"faults: {injected} injected, {caught} caught, {missed} missed" if injected else None


def _machine_cpu() -> tuple[float, float]:
    """Seconds of CPU busy and in all (every core) since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / ticks, sum(fields[:8]) / ticks


def _containers() -> set[str]:
    if not shutil.which("docker"):
        return set()
    listed = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True)
    return set(listed.stdout.split()) if listed.returncode == 0 else set()


def run_all(names: list[str], args: list[str]) -> int:
    chosen = [g for g in GROUPS if not names or g.name in names]
    LOGS.mkdir(exist_ok=True)
    for stale in LOGS.iterdir():
        stale.unlink()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops every group's pytest; the table still follows
    outcomes = {g.name: Outcome(g) for g in chosen}
    containers_before = _containers()
    began, (busy0, all0) = time.monotonic(), _machine_cpu()
    lanes = [[g for g in chosen if g.lane == lane] for lane in dict.fromkeys(g.lane for g in chosen if g.lane != "alone")]
    if any(lanes):
        _run_lanes(lanes, args, outcomes, began)
    for group in (g for g in chosen if g.lane == "alone"):
        print(f"{_minutes(time.monotonic() - began)}  {group.name}: alone, with the machine to itself", flush=True)
        _run_lanes([[group]], args, outcomes, began)
    wall = time.monotonic() - began
    busy1, all1 = _machine_cpu()
    for outcome in outcomes.values():
        if not outcome.ok:
            print(f"\n===== {outcome.group.name}: {outcome.result} (all of it: {log(outcome.group)}) =====")
            print("\n".join(_failures(outcome.group)))
            for command in outcome.left_running:
                print(f"left running: {command}")
    left_containers = sorted(_containers() - containers_before)
    for name in left_containers:  # a group's fixtures remove what they made; anything else is a finding
        print(f"left running by the tests, removed now: container {name}")
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
    tally = _tally(chosen)
    if tally:
        print(tally)
    print(f"\n{'group':<9} {'tests':>5} {'wall':>12} {'CPU':>12}  result")
    for outcome in outcomes.values():
        print(f"{outcome.group.name:<9} {outcome.tests:>5} {_minutes(outcome.wall):>12} {_minutes(outcome.cpu):>12}  "
              f"{outcome.result}")
    total = sum(o.tests for o in outcomes.values())
    passed = all(o.ok for o in outcomes.values()) and not left_containers
    print(f"{'all':<9} {total:>5} {_minutes(wall):>12} {_minutes(sum(o.cpu for o in outcomes.values())):>12}  "
          f"{'passed' if passed else 'FAILED'}")
    cores = os.cpu_count() or 1
    print(f"machine: {(busy1 - busy0) / max(all1 - all0, 1e-9):.0%} of {cores} cores busy over the "
          f"{_minutes(wall)} (containers included)")
    return 0 if passed else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["one"]:
        return run_one(argv[1], argv[2:])
    if argv[:1] == ["--list"]:
        for group in GROUPS:
            print(f"{group.name:<9} {' '.join(group.paths)} (quiet tests: {group.quiet}; lane: {group.lane}; "
                  f"run dir {group.run_dir}{', its own checkout' if group.own_checkout else ''}; "
                  f"ports + {group.port_offset})")
        return 0
    names: list[str] = []
    while argv[:1] == ["--group"] and len(argv) > 1:
        names.append(argv[1])
        argv = argv[2:]
    unknown = [n for n in names if n not in {g.name for g in GROUPS}]
    if unknown:
        print(f"tests.groups: no group named {', '.join(unknown)}; the groups: {', '.join(g.name for g in GROUPS)}",
              file=sys.stderr)
        return 2
    return run_all(names, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

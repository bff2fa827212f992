"""Host facts through testinfra (local://, ssh://, docker://): CPU, memory, disk, OS, packages, files."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProbeError
from ..units import parse, version_tuple


def run(host: Any, command: str, *args: str) -> str:
    result = host.run(command, *args)
    if result.rc != 0:
        raise ProbeError(f"`{result.command}` failed on the host: {(result.stderr or result.stdout).strip()[:200]}")
    return result.stdout


@dataclass
class Cpu:
    cores: int
    max_mhz: float


def cpu(host: Any) -> Cpu:
    cores = int(run(host, "nproc --all").strip())
    info = host.file("/proc/cpuinfo").content_string
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)]
    max_freq = host.file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_freq.exists:
        mhz.append(int(max_freq.content_string.strip()) / 1000)
    model = re.findall(r"@\s*([\d.]+)GHz", info)
    mhz += [float(g) * 1000 for g in model]
    if not mhz:
        raise ProbeError("the host reports no CPU clock (no 'cpu MHz' in /proc/cpuinfo, no cpufreq)")
    return Cpu(cores, max(mhz))


def memory_bytes(host: Any) -> int:
    text = host.file("/proc/meminfo").content_string
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.M)
    if not match:
        raise ProbeError("MemTotal missing from /proc/meminfo")
    return int(match.group(1)) * 1024


@dataclass
class Volume:
    path: str
    device: str
    size_bytes: int
    free_bytes: int
    rotational: bool | None


def volume(host: Any, path: str) -> Volume:
    line = run(host, "df -B1 --output=source,size,avail %s", path).strip().splitlines()[-1].split()
    device, size, free = line[0], int(line[1]), int(line[2])
    rotational: bool | None = None
    name = device.rsplit("/", 1)[-1]
    parent = run(host, "lsblk -no pkname %s 2>/dev/null || true", device).strip() or name
    flag = host.file(f"/sys/block/{parent}/queue/rotational")
    if flag.exists:
        rotational = flag.content_string.strip() == "1"
    return Volume(path, device, size, free, rotational)


def os_release(host: Any) -> dict[str, str]:
    text = host.file("/etc/os-release").content_string
    return {k: v.strip('"') for k, v in re.findall(r"^(\w+)=(.*)$", text, re.M)}


def os_accepted(release: dict[str, str], accepted: dict[str, str]) -> bool:
    distro, version = release.get("ID", ""), release.get("VERSION_ID", "0")
    return distro in accepted and version_tuple(version) >= version_tuple(str(accepted[distro]))


def missing_packages(host: Any, names: list[str]) -> list[str]:
    return [name for name in names if not host.package(name).is_installed]


def file_mode(host: Any, path: str) -> str:
    f = host.file(path)
    if not f.exists:
        raise ProbeError(f"{path} does not exist on the host")
    return format(f.mode, "o")


def file_digest(host: Any, path: str) -> str:
    """The SHA-256 of a file as it is on the host."""
    f = host.file(path)
    if not f.exists:
        raise ProbeError(f"{path} does not exist on the host")
    return str(f.sha256sum)


def listening(host: Any) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket on the host."""
    sockets = []
    for spec in host.socket.get_listening_sockets():
        if spec.startswith("tcp://"):
            address, _, port = spec.removeprefix("tcp://").rpartition(":")
            sockets.append((address.strip("[]"), int(port)))
    return sockets


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    program: str  # the process that holds the socket, as ss names it ("" when it cannot tell)

    @property
    def on_loopback(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1"

    def __str__(self) -> str:
        return f"{self.program or 'a program ss cannot name'} on {self.address}:{self.port}"


def listeners(host: Any) -> list[Listener]:
    """Every listening TCP socket of the host with the program that holds it (`ss -Hltnp`: as root, every
    process's)."""
    found = []
    for line in run(host, "ss -Hltnp").splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        address, _, port = fields[3].rpartition(":")
        program = re.search(r'users:\(\("([^"]+)"', line)
        if port.isdigit():
            found.append(Listener(address.strip("[]").replace("*", "0.0.0.0"), int(port),
                                  program.group(1) if program else ""))
    return found


def process_binary_version(host: Any, process_name: str, flag: str = "-v") -> str:
    """Ask the binary of the running process itself (server_tokens off hides it from clients)."""
    pids = run(host, "pgrep -o -x %s || true", process_name).split()
    if not pids:
        raise ProbeError(f"no running '{process_name}' process on the host")
    exe = run(host, "readlink -f /proc/%s/exe", pids[0]).strip()
    result = host.run(f"{exe} {flag}")
    return (result.stdout + result.stderr).strip()


def link_speeds_mbps(host: Any) -> dict[str, int]:
    speeds = {}
    for name in run(host, "ls /sys/class/net").split():
        if name == "lo":
            continue
        operstate = host.file(f"/sys/class/net/{name}/operstate")
        speed = host.run(f"cat /sys/class/net/{name}/speed")
        if operstate.exists and operstate.content_string.strip() == "up" and speed.rc == 0:
            value = int(speed.stdout.strip() or -1)
            if value > 0:
                speeds[name] = value
    return speeds


def capacity_plan(thresholds: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The paper's formula (§2.1.2): base x max(1, users / step) x margin, rounded up, per component."""
    t = thresholds
    scale = max(1.0, t["expected_users"] / t["users_per_scale_step"])
    plan = {}
    for name, base in t["components"].items():
        plan[name] = {"cores": math.ceil(base["cores"] * scale * t["cpu_margin"]),
                      "memory_gb": math.ceil(parse(base["memory"]).value / 1e9 * scale * t["memory_margin"]),
                      "storage_gb": math.ceil(parse(base["storage"]).value / 1e9 * scale * t["storage_margin"])}
    return plan


@dataclass
class Firewall:
    status: str  # active / inactive
    defaults: str  # "deny (incoming), allow (outgoing)"
    allowed_in: list[str]  # inbound ALLOW rules, "22/tcp" for SSH whatever ufw calls it
    sources: dict[str, list[str]] = field(default_factory=dict)  # rule -> whom it admits ("Anywhere", an address)


def ufw_state(verbose_status: str) -> Firewall:
    """What `ufw status verbose` says: state, default policies and the inbound rules it allows."""
    status = re.search(r"^Status: (\w+)", verbose_status, re.M)
    defaults = re.search(r"^Default: (.*?)(?:, \w+ \(routed\))?$", verbose_status, re.M)
    sources: dict[str, set[str]] = {}
    for m in re.finditer(r"^(\S+)(?: \(v6\))?\s+ALLOW IN\s+(\S+)", verbose_status, re.M):
        rule = "22/tcp" if m.group(1) in ("22", "OpenSSH", "SSH") else m.group(1)
        sources.setdefault(rule, set()).add(m.group(2))
    return Firewall(status.group(1) if status else "unknown", defaults.group(1).strip() if defaults else "",
                    sorted(sources), {rule: sorted(found) for rule, found in sorted(sources.items())})

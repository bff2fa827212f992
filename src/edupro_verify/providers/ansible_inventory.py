"""The tiers' servers from an Ansible inventory (INI or YAML, groups web, app and data), as teams keep them:
a profile names `target.inventory: FILE` instead of listing `target.hosts`, and the suite and deploy.sh reach the
same servers either way. Read with testinfra's Ansible runner (`ansible-inventory --list`, ansible-core); each host
becomes ssh://ansible_user@ansible_host, reached with the profile's target.ssh_config."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from testinfra.utils.ansible_runner import AnsibleRunner

from ..errors import TargetError

TIERS = ("web", "app", "data")


def _runner(path: Path) -> AnsibleRunner:
    # ansible-inventory is installed beside this Python (the pinned virtualenv), which need not be on PATH
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    os.environ.setdefault("ANSIBLE_LOCAL_TEMP", "/tmp/.ansible-local")  # not the user's home
    return AnsibleRunner(str(path))


def host_spec(name: str, variables: dict[str, object], where: str) -> str:
    """The ssh:// spec of an inventory host. Its key, pinned host key and any other port come from the profile's
    target.ssh_config, which deploy.sh and the suite both read."""
    port = variables.get("ansible_port")
    if port not in (None, 22, "22"):
        raise TargetError(f"{where}: {name} has ansible_port={port}; put the port in target.ssh_config "
                          f"(Host {variables.get('ansible_host') or name} / Port {port}), which deploy.sh reads too")
    user = variables.get("ansible_user")
    return f"ssh://{f'{user}@' if user else ''}{variables.get('ansible_host') or name}"


def tiers(path: Path, where: str = "target.inventory") -> dict[str, list[str]]:
    """Each tier's servers, in the inventory's order of hosts; an error naming what is missing otherwise."""
    if not path.is_file():
        raise TargetError(f"{where}: {path} does not exist; give an Ansible inventory (INI or YAML) with the groups "
                          f"{', '.join(TIERS)}")
    runner = _runner(path)
    try:
        inventory = runner.inventory
    except Exception as error:  # ansible-inventory's own failure: its last line says what
        text = str(getattr(error, "stderr", "") or error).strip().splitlines()
        raise TargetError(f"{where}: {path} is not an inventory ansible-inventory can read "
                          f"({(text or ['no output'])[-1][:160]})") from None
    found = {tier: [host_spec(name, runner.get_variables(name), where) for name in inventory.get(tier, {}).get("hosts", [])]
             for tier in TIERS}
    missing = [tier for tier, hosts in found.items() if not hosts]
    if missing:
        raise TargetError(f"{where}: {path} has no hosts in the group(s) {', '.join(missing)}; list the servers of "
                          f"each tier under [web], [app] and [data]")
    return found

"""The deployment's configuration as its own tool merges it, and where its secrets could leak (CFG-01..04)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import ProbeError
from ..targets import Target


def merged(target: Target, env: str) -> dict[str, Any]:
    """`deploy.sh config --env ENV` of the target: the merged configuration, secrets hidden."""
    result = target.deploy("config", "--env", env)
    if result.returncode != 0:
        raise AssertionError(f"the configuration for {env} is refused: {result.stderr.strip()}")
    return dict(json.loads(result.stdout))


def with_wrong_type(target: Target, env: str, section: str, key: str, value: Any) -> tuple[int, str]:
    """Merge a copy of the stack's configuration whose SECTION.KEY is VALUE: deploy.sh's exit code and message."""
    source = target.path("repository") / "stack" / "config"
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copytree(source, Path(folder) / "config"))
        base = yaml.safe_load((copy / "base.yaml").read_text())
        base[section][key] = value
        (copy / "base.yaml").write_text(yaml.safe_dump(base))
        result = target.deploy("config", "--env", env, "--config-dir", str(copy))
    return result.returncode, result.stderr.strip()


def committed(repository: Path, values: dict[str, str]) -> list[str]:
    """Which of the named secret values appear in the repository's tracked files (git grep)."""
    found = []
    for name, value in values.items():
        result = subprocess.run(["git", "-C", str(repository), "grep", "-q", "-F", "-e", value], capture_output=True,
                                check=False)
        if result.returncode == 0:
            found.append(name)
        elif result.returncode not in (0, 1):
            raise ProbeError(f"git grep in {repository} failed: {result.stderr.decode(errors='replace').strip()[:120]}")
    return found


def shared_with_other_environments(host: Any, secrets_file: Path, values: dict[str, str]) -> tuple[list[str], list[str]]:
    """The other environments' secret files beside this one on the host, and which of their values this one shares."""
    listing = host.run(f"ls -1 {secrets_file.parent}")
    others = [n for n in listing.stdout.split() if n.startswith("secrets-") and n.endswith(".json")
              and n != secrets_file.name]
    shared = [f"{n}:{k}" for n in others
              for k, v in json.loads(host.file(f"{secrets_file.parent}/{n}").content_string).items()
              if v in values.values()]
    return others, shared

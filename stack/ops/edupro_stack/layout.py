"""Where everything of a running stack lives (one run directory, ignored by git)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Layout:
    run: Path

    @classmethod
    def default(cls) -> "Layout":
        return cls(Path(os.environ.get("EDUPRO_RUN_DIR", REPO / "run")).resolve())

    repo: Path = REPO

    @property
    def pgdata(self) -> Path: return self.run / "postgres" / "data"
    @property
    def pgsocket(self) -> Path: return self.run / "postgres" / "socket"
    @property
    def redis(self) -> Path: return self.run / "redis"
    @property
    def nginx(self) -> Path: return self.run / "nginx"
    @property
    def tls(self) -> Path: return self.run / "tls"
    @property
    def certificate(self) -> Path: return self.tls / "edupro.crt"
    @property
    def private_key(self) -> Path: return self.tls / "edupro.key"
    @property
    def logs(self) -> Path: return self.run / "logs"
    @property
    def backups(self) -> Path: return self.run / "backups"
    @property
    def dumps(self) -> Path: return self.backups / "dumps"
    @property
    def wal_archive(self) -> Path: return self.backups / "wal"
    @property
    def base_backups(self) -> Path: return self.backups / "base"
    @property
    def prometheus(self) -> Path: return self.run / "prometheus"
    @property
    def textfile(self) -> Path: return self.run / "node-exporter-textfile"
    @property
    def models(self) -> Path: return self.run / "models"
    @property
    def api_descriptions(self) -> Path: return self.run / "api"  # each colour's OpenAPI document, as it serves it
    @property
    def frontend(self) -> Path: return self.repo / "stack" / "frontend" / "dist"
    @property
    def pids(self) -> Path: return self.run / "pids"
    @property
    def state_file(self) -> Path: return self.run / "state.json"
    @property
    def history(self) -> Path: return self.run / "deployments.jsonl"
    @property
    def deployed_config(self) -> Path: return self.run / "deployed-config.json"
    @property
    def deployment_log(self) -> Path: return self.logs / "deployment.log"
    @property
    def demo_accounts(self) -> Path: return self.run / "demo-accounts.json"
    @property
    def python(self) -> Path: return self.repo / ".venv" / "bin" / "python"

    @property
    def stopped_on_purpose(self) -> Path:
        """Present after `down`: supervision (on a server) does not start the stack again."""
        return self.run / "stopped-on-purpose"

    @property
    def host_config(self) -> Path:
        """A server's own settings (its name and address), written there by deploy.sh over SSH."""
        return self.run / "host.yaml"

    def secrets_file(self, env: str) -> Path:
        return self.run / f"secrets-{env}.json"

    def backend_env(self, colour: str) -> Path:
        return self.run / f"backend-{colour}.env"

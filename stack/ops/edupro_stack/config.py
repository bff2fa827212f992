"""Configuration: base < environment < host < secrets, validated, written as the services' env files (CFG-01)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.fernet import Fernet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .layout import Layout

ENVIRONMENTS = ("development", "staging", "production")
SECRET_KEYS = ("postgres_password", "owner_password", "app_password", "redis_password", "jwt_secret",
               "data_encryption_key")
MIN_SECRET_LENGTH = 32


class ConfigError(Exception):
    """A configuration that must not be deployed; the message says which key and why."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Application(Strict):
    name: str
    version: str


class Database(Strict):
    host: str
    port: int = Field(ge=1, le=65535)
    name: str
    charset: Literal["UTF8"]
    timezone: Literal["UTC"]
    pool_size: int = Field(ge=1)
    max_overflow: int = Field(ge=0)
    pool_timeout: int = Field(ge=1)
    pool_recycle: int = Field(ge=1)
    ssl_mode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"]


class HealthCheck(Strict):
    path: str
    interval_seconds: int = Field(ge=1)
    timeout_seconds: int = Field(ge=1)
    retries: int = Field(ge=1)


class Api(Strict):
    docs_enabled: bool
    cors_enabled: bool
    cors_origins: list[str]
    rate_limit_per_minute: int = Field(ge=0)
    debug: bool
    reload: bool
    workers: int = Field(ge=1)
    instances_per_colour: int = Field(ge=1)
    ports: dict[Literal["blue", "green"], list[int]]
    healthcheck: HealthCheck


class Security(Strict):
    jwt_algorithm: Literal["HS256"]
    jwt_expiry_minutes: int = Field(ge=1)
    password_hash_rounds: int = Field(ge=4, le=31)
    session_timeout_minutes: int = Field(ge=1)


class Logging(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    format: Literal["json"]
    rotation: Literal["daily"]
    retention_days: int = Field(ge=1)


class Cache(Strict):
    host: str
    port: int = Field(ge=1, le=65535)


class Proxy(Strict):
    listen: str
    http_port: int = Field(ge=1, le=65535)
    https_port: int = Field(ge=1, le=65535)
    server_name: str


class Tls(Strict):
    subject: dict[str, str]
    alt_names: list[str]
    valid_days: int = Field(ge=1)


class Monitoring(Strict):
    prometheus_port: int
    node_exporter_port: int
    scrape_interval_seconds: int = Field(ge=1)


class Backup(Strict):
    archive_timeout_seconds: int = Field(ge=30)
    keep_days: int = Field(ge=1)


class Operations(Strict):
    """Where the backup schedule and the log rotation go: the run directory (a development machine, where
    nothing is installed into the system) or the host's own /etc/cron.d and /etc/logrotate.d (a server)."""
    install: Literal["run-directory", "system"]


class Tiers(Strict):
    """Where the tiers run: the paper's three-tier network (seed §2.1.2) on servers of their own, or all on one.

    ROLE is what this host runs (host.yaml, written by deploy.sh over SSH): `all` the whole stack (one server or this
    machine); `web` nginx (TLS, the proxy across every application server) and monitoring; `app` the backend's
    colours and the frontend's files on FRONTEND_PORT; `data` PostgreSQL (TLS required from the application
    servers) and Redis, and the backups. WEB, APP and DATA are the tiers' addresses as the servers reach each other.
    Every server runs a node exporter; the web server's Prometheus scrapes each of them (MON-01).
    """
    role: Literal["all", "web", "app", "data"] = "all"
    address: str = ""  # this server's own address, as the other tiers reach it
    web: list[str] = []
    app: list[str] = []
    data: list[str] = []
    frontend_port: int = Field(3000, ge=1, le=65535)

    def runs(self, tier: Literal["web", "app", "data"]) -> bool:
        return self.role in ("all", tier)


class Secrets(Strict):
    postgres_password: str
    owner_password: str
    app_password: str
    redis_password: str
    jwt_secret: str
    data_encryption_key: str

    @field_validator("*")
    @classmethod
    def strong(cls, value: str) -> str:
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"shorter than {MIN_SECRET_LENGTH} characters")
        return value


class StackConfig(Strict):
    environment: Literal["development", "staging", "production"]
    application: Application
    database: Database
    api: Api
    security: Security
    logging: Logging
    cache: Cache
    proxy: Proxy
    tls: Tls
    monitoring: Monitoring
    backup: Backup
    operations: Operations
    tiers: Tiers = Tiers()
    secrets: Secrets


def merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win, key by key, recursively."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def ensure_secrets(layout: Layout, env: str) -> Path:
    """Generate this environment's secrets once, owner-readable only; never printed."""
    path = layout.secrets_file(env)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {k: secrets.token_urlsafe(32) for k in SECRET_KEYS}
        values["data_encryption_key"] = Fernet.generate_key().decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
    return path


def load(layout: Layout, env: str, config_dir: Path | None = None) -> StackConfig:
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment '{env}': use one of {', '.join(ENVIRONMENTS)}")
    folder = config_dir or layout.repo / "stack" / "config"
    base = read_yaml(folder / "base.yaml")
    overrides = read_yaml(folder / f"{env}.yaml")
    host = read_yaml(layout.host_config) if layout.host_config.exists() else {}
    secret_values = json.loads(ensure_secrets(layout, env).read_text())
    merged = merge(base, overrides, host, {"environment": env, "secrets": secret_values})
    try:
        return StackConfig.model_validate(shift_ports(merged, port_offset()))
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"configuration for {env} is invalid: {key}: {first['msg']}") from None


PORT_OFFSET_VARIABLE = "EDUPRO_PORT_OFFSET"


def port_offset() -> int:
    """EDUPRO_PORT_OFFSET moves every port of a stack by N, so a second stack (the project's own tests, with their
    own EDUPRO_RUN_DIR) runs beside the developer's without touching it."""
    text = os.environ.get(PORT_OFFSET_VARIABLE, "0").strip() or "0"
    if not text.isdigit() or int(text) > 40000:
        raise ConfigError(f"{PORT_OFFSET_VARIABLE}={text}: give a whole number from 0 to 40000")
    return int(text)


def shift_ports(merged: dict[str, Any], offset: int) -> dict[str, Any]:
    """The merged configuration with every port (and the origin the frontend is served from) moved by OFFSET."""
    if not offset:
        return merged
    moved = {section: dict(merged.get(section, {})) for section in ("database", "cache", "proxy", "monitoring", "api")}
    for section, keys in (("database", ("port",)), ("cache", ("port",)), ("proxy", ("http_port", "https_port")),
                          ("monitoring", ("prometheus_port", "node_exporter_port"))):
        for key in keys:
            if isinstance(moved[section].get(key), int):
                moved[section][key] += offset
    api = moved["api"]
    api["ports"] = {colour: [p + offset for p in ports] for colour, ports in dict(api.get("ports", {})).items()}
    https = merged.get("proxy", {}).get("https_port")
    api["cors_origins"] = [o.replace(f":{https}", f":{https + offset}") if isinstance(https, int) else o
                           for o in api.get("cors_origins", [])]
    return {**merged, **moved}


def record_deployed(cfg: StackConfig, layout: Layout) -> None:
    """What the running stack was started with (secrets left out), for status to report."""
    layout.deployed_config.write_text(json.dumps(cfg.model_dump(exclude={"secrets"}), indent=2))


def load_deployed(layout: Layout, env: str) -> StackConfig:
    """The configuration the running stack uses, even if the files have changed since."""
    if not layout.deployed_config.exists():
        return load(layout, env)
    deployed = json.loads(layout.deployed_config.read_text())
    secret_values = json.loads(ensure_secrets(layout, env).read_text())
    return StackConfig.model_validate({**deployed, "secrets": secret_values})


def database_url(cfg: StackConfig, role: str, password: str) -> str:
    db = cfg.database
    return f"postgresql+psycopg://{role}:{password}@{db.host}:{db.port}/{db.name}"


def redis_url(cfg: StackConfig) -> str:
    return f"redis://:{cfg.secrets.redis_password}@{cfg.cache.host}:{cfg.cache.port}/0"


def backend_environment(cfg: StackConfig, layout: Layout, colour: str, version: str) -> dict[str, str]:
    """The merged configuration as the backend reads it (EDUPRO_* variables)."""
    values: dict[str, object] = {
        "environment": cfg.environment, "release_version": version, "colour": colour,
        "build_date": os.environ.get("EDUPRO_BUILD_DATE", ""), "vcs_ref": os.environ.get("EDUPRO_VCS_REF", ""),
        "database_url": database_url(cfg, "edupro_app", cfg.secrets.app_password),
        "database_sslmode": cfg.database.ssl_mode,
        "db_pool_size": cfg.database.pool_size, "db_max_overflow": cfg.database.max_overflow,
        "db_pool_timeout": cfg.database.pool_timeout, "db_pool_recycle": cfg.database.pool_recycle,
        "db_charset": cfg.database.charset, "db_timezone": cfg.database.timezone,
        "redis_url": redis_url(cfg), "rate_limit_per_minute": cfg.api.rate_limit_per_minute,
        "jwt_secret": cfg.secrets.jwt_secret, "jwt_algorithm": cfg.security.jwt_algorithm,
        "jwt_expire_minutes": cfg.security.jwt_expiry_minutes, "bcrypt_rounds": cfg.security.password_hash_rounds,
        "session_timeout_minutes": cfg.security.session_timeout_minutes,
        "data_encryption_key": cfg.secrets.data_encryption_key,
        "api_docs": cfg.api.docs_enabled, "cors_enabled": cfg.api.cors_enabled,
        "cors_origins": json.dumps(cfg.api.cors_origins), "debug": cfg.api.debug, "workers": cfg.api.workers,
        "log_level": cfg.logging.level, "log_format": cfg.logging.format, "log_rotation": cfg.logging.rotation,
        "log_retention_days": cfg.logging.retention_days,
    }
    env = {f"EDUPRO_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
    env["ML_MODEL_PATH"] = str(layout.models)
    return env


def write_env_file(path: Path, values: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{k}={v}\n" for k, v in sorted(values.items()))

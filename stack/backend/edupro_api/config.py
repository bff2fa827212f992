"""One settings object, read from the environment file that the deploy driver generates."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that must never protect a real deployment (the paper's examples and common defaults).
KNOWN_DEFAULT_SECRETS = {"changeme", "secret", "password", "your-secret-key", "edupro", "admin"}
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EDUPRO_", extra="ignore")

    environment: Literal["development", "staging", "production"] = "development"
    release_version: str = "0.0.0-dev"
    build_date: str = ""
    vcs_ref: str = ""
    colour: str = ""
    instance: str = ""

    database_url: str
    database_sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = "disable"
    db_pool_size: int = 20
    db_max_overflow: int = 30
    db_pool_timeout: int = 30
    db_pool_recycle: int = 3600
    db_charset: str = "UTF8"
    db_timezone: str = "UTC"

    redis_url: str
    rate_limit_per_minute: int = Field(60, ge=0)  # 0 switches the limit off
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]  # whose X-Real-IP names the client (the proxy's addresses)

    jwt_secret: SecretStr
    jwt_algorithm: Literal["HS256"] = "HS256"
    jwt_expire_minutes: int = Field(120, ge=1)
    bcrypt_rounds: int = Field(12, ge=4, le=31)
    session_timeout_minutes: int = 30
    data_encryption_key: SecretStr

    api_docs: bool = True
    cors_enabled: bool = True
    cors_origins: list[str] = []
    debug: bool = False
    workers: int = 1
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json"] = "json"
    log_rotation: str = "daily"
    log_retention_days: int = 30

    ml_model_path: Path = Field(validation_alias="ML_MODEL_PATH")
    # Where each instance writes the API's description (OpenAPI) as it serves it, published or not (DATA-01 reads it)
    openapi_dir: Path | None = None

    @model_validator(mode="after")
    def secrets_are_strong(self) -> "Settings":
        if self.environment == "development":
            return self
        for name in ("jwt_secret", "data_encryption_key"):
            value = getattr(self, name).get_secret_value()
            if value.lower() in KNOWN_DEFAULT_SECRETS or len(value) < MIN_SECRET_LENGTH:
                raise ValueError(f"{name} is a default or weak secret; generate a strong one")
        return self

    def effective(self) -> dict[str, object]:
        """The non-secret settings, as an administrator may see them (CFG-02, CFG-03)."""
        secret = {"jwt_secret", "data_encryption_key", "database_url", "redis_url"}
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in secret}


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]

"""Redis: password required, append-only persistence, loopback only (APP-05)."""

from __future__ import annotations

import redis as redis_client

from ..config import StackConfig
from ..layout import Layout
from ..processes import give, pid_of, start_daemon, stop_daemon, wait_for_port, which

NAME = "redis"


def config_text(cfg: StackConfig, layout: Layout) -> str:
    return "\n".join([
        f"bind {' '.join([cfg.cache.host, *(cfg.tiers.data[:1] if cfg.tiers.role == 'data' else [])])}",
        f"port {cfg.cache.port}",
        "protected-mode yes",
        f"requirepass {cfg.secrets.redis_password}",
        "appendonly yes",
        "appendfsync everysec",
        f"dir {layout.redis}",
        "daemonize no",
        "loglevel notice",
        "",
    ])


def start(cfg: StackConfig, layout: Layout) -> None:
    layout.redis.mkdir(parents=True, exist_ok=True)
    conf = layout.redis / "redis.conf"
    conf.write_text(config_text(cfg, layout))
    give(layout.redis)
    conf.chmod(0o600)
    if pid_of(NAME, layout.pids):
        return
    start_daemon(NAME, [which("redis-server"), str(conf)], layout.pids, layout.logs / "redis.log")
    wait_for_port(cfg.cache.host, cfg.cache.port, "Redis")


def stop(layout: Layout) -> None:
    stop_daemon(NAME, layout.pids)


def client(cfg: StackConfig) -> redis_client.Redis:
    return redis_client.Redis(host=cfg.cache.host, port=cfg.cache.port, password=cfg.secrets.redis_password,
                              socket_timeout=3)

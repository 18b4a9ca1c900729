"""The rate-limit row: one caller's requests spread over two gateway processes (two hosts, as
far as the limiter can tell), counted against the configured limit.

With a Redis URL the two processes share one limit, so they admit `burst` requests between them;
without one each process keeps its own buckets and together they admit about twice that. Both
are measured in the same run, so the row shows the difference, not only the setting."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import httpx

from bench.servers import serve

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BURST = 60
SENT = 4 * BURST
WHOAMI = b'{"query":"{ whoami { role } }"}'


def redis_url() -> str | None:
    """GATEWAY_REDIS_URL when set, else the local Redis when it answers; None without one."""
    import redis

    url = os.environ.get("GATEWAY_REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        return None
    finally:
        client.close()
    return url


def _admitted(ports: tuple[int, int], token: str) -> dict[str, int]:
    """SENT requests of one caller, alternating between the two processes; statuses counted."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    counts: dict[str, int] = {}
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) for port in ports]
    try:
        for i in range(SENT):
            status = clients[i % 2].post("/graphql", content=WHOAMI, headers=headers).status_code
            counts[str(status)] = counts.get(str(status), 0) + 1
    finally:
        for client in clients:
            client.close()
    return counts


def _pair(env: dict[str, str | None], log_dir: Path, token: str, tag: str) -> dict[str, int]:
    with (
        serve("gateway", env, log_dir, tag=f"-{tag}-a") as a,
        serve("gateway", env, log_dir, tag=f"-{tag}-b") as b,
    ):
        return _admitted((a.port, b.port), token)


def measure(env: dict[str, str], log_dir: Path, token: str) -> dict[str, Any]:
    """Admitted and refused requests of one caller over two processes, with Redis (when one
    answers) and without; {"redis": None} when no Redis answers."""
    limited: dict[str, str | None] = {
        **env,
        # A window far longer than the test: exactly `burst` requests fit (no refill meanwhile).
        "GATEWAY_DOMAIN__LIMITS__RATE_PER_S": "0.001",
        "GATEWAY_DOMAIN__LIMITS__RATE_BURST": str(BURST),
    }
    local = {**limited, "GATEWAY_REDIS_URL": None}  # even when this process's environment sets one
    out: dict[str, Any] = {"burst": BURST, "sent": SENT, "local": _pair(local, log_dir, token, "local")}
    url = redis_url()
    if url is None:
        out["redis"] = None
        return out
    prefix = f"bench-{secrets.token_hex(6)}"  # its keys are deleted after
    shared = {**limited, "GATEWAY_REDIS_URL": url, "GATEWAY_REDIS_PREFIX": prefix}
    try:
        out["redis"] = _pair(shared, log_dir, token, "redis")
    finally:
        _delete_keys(url, prefix)
    return out


def _delete_keys(url: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)

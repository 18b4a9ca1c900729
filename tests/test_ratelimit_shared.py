"""Rate limits shared through Redis: two gateway instances (as two hosts would be) on one Redis
enforce one limit; an unreachable Redis leaves each instance counting on its own.

Needs a Redis server: TEST_REDIS_URL, default redis://127.0.0.1:6379/0. Without one these tests
skip, unless GATEWAY_REQUIRE_REDIS=1 (CI sets it), where a missing Redis is a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.settings import Settings
from privacy.principal import Role
from tests.conftest import running_client
from tests.test_limits import _settings

WHOAMI = {"query": "{ whoami { role } }"}


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A reachable Redis, and a key prefix of this test's own (its keys are deleted after)."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("GATEWAY_REQUIRE_REDIS") == "1":
            pytest.fail(f"GATEWAY_REQUIRE_REDIS=1 but Redis at {url} does not answer: {exc}")
        pytest.skip(f"no Redis at {url} ({type(exc).__name__}); set TEST_REDIS_URL to run these")
    yield url
    client.close()


def _shared(settings: Settings, url: str, prefix: str) -> Settings:
    return settings.model_copy(update={"redis_url": SecretStr(url), "redis_prefix": prefix})


def _delete_keys(url: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


async def test_two_gateways_on_one_redis_share_one_limit(
    db_dsn: str, tmp_path: Path, token, redis_url: str
) -> None:
    prefix = f"gw-test-{uuid.uuid4().hex[:8]}"
    settings = _settings(db_dsn, tmp_path, rate_per_s=0.001, rate_burst=4)
    headers = {"Authorization": f"Bearer {token(Role.APP, 'ios')}"}
    try:
        async with (
            running_client(_shared(settings, redis_url, prefix)) as a,
            running_client(_shared(settings, redis_url, prefix)) as b,
        ):
            statuses = [
                (await c.post("/graphql", json=WHOAMI, headers=headers)).status_code for c in (a, b) * 3
            ]
            assert statuses == [200, 200, 200, 200, 429, 429]
            refused = await a.post("/graphql", json=WHOAMI, headers=headers)
            assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert int(refused.headers["retry-after"]) >= 1
            # another principal has a limit of its own
            other = {"Authorization": f"Bearer {token(Role.APP, 'android')}"}
            assert (await b.post("/graphql", json=WHOAMI, headers=other)).status_code == 200
            # nothing about the caller is stored in clear
            import redis

            with redis.Redis.from_url(redis_url) as r:
                keys = [k.decode() for k in r.scan_iter(match=f"{prefix}:*")]
            assert keys and not any("ios" in k or "app" in k.removeprefix(prefix) for k in keys), keys
    finally:
        _delete_keys(redis_url, prefix)


async def test_without_redis_each_gateway_counts_on_its_own(db_dsn: str, tmp_path: Path, token) -> None:
    settings = _settings(db_dsn, tmp_path, rate_per_s=0.001, rate_burst=4)
    headers = {"Authorization": f"Bearer {token(Role.APP, 'ios')}"}
    async with running_client(settings) as a, running_client(settings) as b:
        statuses = [(await c.post("/graphql", json=WHOAMI, headers=headers)).status_code for c in (a, b) * 5]
    assert statuses == [200] * 8 + [429, 429]  # 4 each


async def test_an_unreachable_redis_falls_back_to_counting_per_worker(
    db_dsn: str, tmp_path: Path, token, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(db_dsn, tmp_path, rate_per_s=0.001, rate_burst=3)
    nowhere = _shared(settings, "redis://127.0.0.1:9/0", "gw-test-down")  # discard port: refused
    headers = {"Authorization": f"Bearer {token(Role.APP, 'ios')}"}
    async with running_client(nowhere) as c:
        statuses = [(await c.post("/graphql", json=WHOAMI, headers=headers)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert any("rate limit storage unreachable" in r.getMessage() for r in caplog.records)

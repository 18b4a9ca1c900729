"""Per-principal rate limits: 429 + Retry-After once a caller's bucket is empty; others unaffected."""

from __future__ import annotations

from pathlib import Path

from gateway import ratelimit
from gateway.ratelimit import TokenBuckets
from privacy.principal import Role
from tests.test_limits import _client, _settings

WHOAMI = {"query": "{ whoami { role } }"}


async def test_429_with_retry_after_per_principal(db_dsn: str, tmp_path: Path, token) -> None:
    settings = _settings(
        db_dsn, tmp_path, rate_per_s=0.5, rate_burst=3, anonymous_rate_per_s=0.5, anonymous_burst=2
    )
    alice = {"Authorization": f"Bearer {token(Role.USER, 1)}"}
    bob = {"Authorization": f"Bearer {token(Role.USER, 2)}"}
    async for c in _client(settings):
        statuses = [(await c.post("/graphql", json=WHOAMI, headers=alice)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await c.post("/graphql", json=WHOAMI, headers=alice)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == 2  # one token at 0.5/s
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryable"] is True
        # another user has their own bucket
        assert (await c.post("/graphql", json=WHOAMI, headers=bob)).status_code == 200
        # anonymous callers share a bucket per client IP, with its own (smaller) burst
        anon = [(await c.post("/graphql", json=WHOAMI)).status_code for _ in range(3)]
        assert anon == [200, 200, 429]
        # health checks are never limited
        assert (await c.get("/healthz")).status_code == 200


async def test_each_worker_enforces_its_share(db_dsn: str, tmp_path: Path, token) -> None:
    settings = _settings(db_dsn, tmp_path, rate_per_s=1, rate_burst=8).model_copy(update={"workers": 4})
    headers = {"Authorization": f"Bearer {token(Role.USER, 1)}"}
    async for c in _client(settings):
        statuses = [(await c.post("/graphql", json=WHOAMI, headers=headers)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]  # burst 8 over 4 workers: 2 here


def test_bucket_refills_over_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("k") == 0.5
    now[0] = 0.5
    assert buckets.take("k") == 0.0
    now[0] = 100.0
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.5]  # never above the burst


def test_bucket_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_BUCKETS", 10)
    now = [0.0]
    buckets = TokenBuckets(rate=1.0, burst=1, clock=lambda: now[0])
    for i in range(100):
        now[0] += 0.01
        buckets.take(f"ip:{i}")
    assert len(buckets._buckets) <= 10


async def test_bad_tokens_are_rate_limited_by_client_address(db_dsn: str, tmp_path: Path, token) -> None:
    settings = _settings(db_dsn, tmp_path, anonymous_rate_per_s=0.01, anonymous_burst=3)
    bad = {"Authorization": "Bearer not-a-token"}
    async for c in _client(settings):
        responses = [await c.post("/graphql", json=WHOAMI, headers=bad) for _ in range(5)]
        assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
        assert responses[0].json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert responses[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # the address's bucket is the anonymous one: bad tokens spent it
        assert (await c.post("/graphql", json=WHOAMI)).status_code == 429
        # a valid token counts in its own bucket
        good = {"Authorization": f"Bearer {token(Role.USER, 1)}"}
        assert (await c.post("/graphql", json=WHOAMI, headers=good)).status_code == 200

"""Per-principal rate limit: a token bucket per caller, answered with 429 + Retry-After.

The key is the token's role and subject (`user:42`, `app:ios`); anonymous callers are keyed by
client IP. Buckets live in each worker process and each worker enforces its share
(rate / workers, burst / workers): the load balancer (the kernel's SO_REUSEPORT / uvicorn's
shared socket) spreads one caller's connections over the workers, so the server as a whole
allows about the configured rate. Why not a shared counter in PostgreSQL: one UPSERT per request
costs a round trip and a row lock on the hot path, and a hot caller serialises on one row;
docs/limits.md has the measurement. The price is precision: a caller pinned to one worker by a
keep-alive connection gets only that worker's share, i.e. the limit errs on the strict side."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from privacy.principal import ANONYMOUS, Principal
from resolvers.common.limits import LimitsConfig

# Bound the memory an attacker can make us hold by rotating keys (IPs, subjects).
MAX_BUCKETS = 100_000
# /graphql and everything under it (persisted documents run full operations too).
LIMITED_PREFIX = "/graphql"


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._evict_full(now)
            bucket = self._buckets[key] = Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _evict_full(self, now: float) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing), else the oldest half."""
        refill = self.burst / self.rate
        idle = [k for k, b in self._buckets.items() if now - b.updated >= refill]
        if not idle:
            idle = sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: len(self._buckets) // 2]
        for key in idle:
            del self._buckets[key]


def principal_key(scope: Scope) -> tuple[str, bool]:
    principal: Principal = scope.get("state", {}).get("principal", ANONYMOUS)
    if principal.is_anonymous:
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}", True
    return principal.label, False


class RateLimitMiddleware:
    """Runs after RequestContextMiddleware (it needs the principal)."""

    def __init__(self, app: ASGIApp, limits: LimitsConfig, workers: int = 1) -> None:
        self.app = app
        share = 1 / max(1, workers)
        self.known = TokenBuckets(limits.rate_per_s * share, max(1.0, limits.rate_burst * share))
        self.anonymous = TokenBuckets(
            limits.anonymous_rate_per_s * share, max(1.0, limits.anonymous_burst * share)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        key, anonymous = principal_key(scope)
        wait = (self.anonymous if anonymous else self.known).take(key)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        await _too_many(send, math.ceil(wait), scope.get("state", {}).get("request_id", ""))


async def _too_many(send: Send, retry_after: int, request_id: str) -> None:
    body = orjson.dumps(
        {
            "errors": [
                {
                    "message": f"rate limit exceeded; retry in {retry_after} s",
                    "extensions": {
                        "code": "RATE_LIMITED",
                        "retryable": True,
                        "retry_after_s": retry_after,
                        "request_id": request_id,
                    },
                }
            ]
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

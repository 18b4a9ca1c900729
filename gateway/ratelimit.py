"""Per-principal rate limit, answered with 429 + Retry-After.

Who is counted: the token's role and subject (`user:42`, `app:ios`); anonymous callers, and
requests whose token was refused, by client address (`ip:…`), so a flood of bad tokens is
limited like anonymous traffic and only then answered 401 (RequestContextMiddleware records the
refusal, this middleware answers it).

Where the counts live:
- no Redis configured: in each worker process, as token buckets, each worker enforcing its
  share (rate / workers, burst / workers). The load balancer (the kernel's SO_REUSEPORT /
  uvicorn's shared socket) spreads one caller's connections over the workers, so the server as
  a whole allows about the configured rate; a caller pinned to one worker by a keep-alive
  connection gets only that worker's share (the limit errs on the strict side).
- `GATEWAY_REDIS_URL` set: in Redis, through the `limits` library's sliding-window counter, one
  limit shared by every worker of every host: `burst` requests per `burst / rate` seconds
  (the same long-run rate and burst as the bucket). Keys are hashed (no subject or address is
  stored in Redis in clear) and expire with their window. When Redis cannot be reached the
  workers fall back to their local buckets for REDIS_RETRY_S and then try again: the gateway
  keeps serving, with the per-worker precision, rather than failing open or closed.

Why not PostgreSQL: one UPSERT per request costs a round trip and a row lock on the hot path,
and a hot caller serialises on one row; docs/limits.md has the measurement."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import send_error
from privacy.principal import ANONYMOUS, Principal
from resolvers.common.limits import LimitsConfig

log = logging.getLogger("gateway.ratelimit")

# Bound the memory an attacker can make us hold by rotating keys (IPs, subjects).
MAX_BUCKETS = 100_000
# /graphql and everything under it (persisted documents run full operations too).
LIMITED_PREFIX = "/graphql"
# After Redis failed, serve from the local buckets this long before trying Redis again.
REDIS_RETRY_S = 5.0
# Redis is on the request path: a slow or unreachable one must not stall requests.
REDIS_TIMEOUT_S = 0.25


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


class LocalLimiter:
    """Token buckets in this process, each worker enforcing its share of the limit."""

    def __init__(self, limits: LimitsConfig, workers: int) -> None:
        share = 1 / max(1, workers)
        self.known = TokenBuckets(limits.rate_per_s * share, max(1.0, limits.rate_burst * share))
        self.anonymous = TokenBuckets(
            limits.anonymous_rate_per_s * share, max(1.0, limits.anonymous_burst * share)
        )

    async def take(self, key: str, anonymous: bool) -> float:
        return (self.anonymous if anonymous else self.known).take(key)

    async def aclose(self) -> None:
        pass


def window(rate: float, burst: int) -> tuple[int, int]:
    """A bucket (rate/s, burst) as a window: (`amount` requests, per `seconds`), same long-run rate."""
    seconds = max(1, round(burst / rate))
    return max(1, round(rate * seconds)), seconds


class RedisLimiter:
    """One limit shared by every process through Redis (`limits`' sliding-window counter)."""

    def __init__(self, limits: LimitsConfig, workers: int, url: str, prefix: str) -> None:
        import redis.asyncio
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import SlidingWindowCounterRateLimiter

        # Our own pool, so that the lifespan can close its connections.
        self.pool = redis.asyncio.ConnectionPool.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        storage = RedisStorage(
            "async+" + url,
            implementation="redispy",
            key_prefix=f"{prefix}:rate",
            wrap_exceptions=True,
            connection_pool=self.pool,  # type: ignore[arg-type]  # passed on to redis-py
        )
        self.strategy = SlidingWindowCounterRateLimiter(storage)
        self.known = RateLimitItemPerSecond(*window(limits.rate_per_s, limits.rate_burst))
        self.anonymous = RateLimitItemPerSecond(*window(limits.anonymous_rate_per_s, limits.anonymous_burst))
        self.local = LocalLimiter(limits, workers)
        self._down_until = 0.0

    async def take(self, key: str, anonymous: bool) -> float:
        if time.monotonic() < self._down_until:
            return await self.local.take(key, anonymous)
        item = self.anonymous if anonymous else self.known
        hashed = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        try:
            if await self.strategy.hit(item, hashed):
                return 0.0
            stats = await self.strategy.get_window_stats(item, hashed)
        except Exception as exc:  # limits.errors.StorageError, wrapping the client's errors
            self._down_until = time.monotonic() + REDIS_RETRY_S
            log.warning(
                "rate limit storage unreachable (%s); counting in this worker for %.0f s",
                type(exc).__name__,
                REDIS_RETRY_S,
            )
            return await self.local.take(key, anonymous)
        return max(1.0, stats.reset_time - time.time())

    async def aclose(self) -> None:
        await self.pool.aclose()


def principal_key(scope: Scope) -> tuple[str, bool]:
    """The key a request is counted under, and whether it counts as anonymous."""
    state = scope.get("state", {})
    principal: Principal = state.get("principal", ANONYMOUS)
    if principal.is_anonymous or state.get("auth_error") is not None:
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}", True
    return principal.label, False


async def send_rate_limited(send: Send, wait: float, request_id: str) -> None:
    """The 429 a request over its limit gets, with when to retry."""
    retry_after = math.ceil(wait)
    await send_error(
        send,
        429,
        f"rate limit exceeded; retry in {retry_after} s",
        "RATE_LIMITED",
        request_id,
        headers=[(b"retry-after", str(retry_after).encode())],
        retryable=True,
        retry_after_s=retry_after,
    )


def build_limiter(
    limits: LimitsConfig, workers: int, redis_url: str | None, prefix: str
) -> LocalLimiter | RedisLimiter:
    if redis_url:
        return RedisLimiter(limits, workers, redis_url, prefix)
    return LocalLimiter(limits, workers)


class RateLimitMiddleware:
    """Runs after RequestContextMiddleware (it needs the principal, or the token's refusal)."""

    def __init__(self, app: ASGIApp, limiter: LocalLimiter | RedisLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state", {})
        request_id = state.get("request_id", "")
        if scope["path"].startswith(LIMITED_PREFIX):
            key, anonymous = principal_key(scope)
            wait = await self.limiter.take(key, anonymous)
            if wait > 0:
                await send_rate_limited(send, wait, request_id)
                return
        auth_error = state.get("auth_error")
        if auth_error is not None:
            await send_error(
                send,
                401,
                auth_error,
                "UNAUTHENTICATED",
                request_id,
                headers=[
                    (
                        b"www-authenticate",
                        f'Bearer error="invalid_token", error_description="{auth_error}"'.encode(),
                    )
                ],
            )
            return
        await self.app(scope, receive, send)

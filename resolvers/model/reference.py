"""Reference data (the catalog, live offers, live segments, rule versions) cached per worker.

Reference data is public configuration, read without the guard. Each kind is loaded once per
worker and kept until it changes: a trigger on its tables sends `NOTIFY gateway_reference, '<kind>'`
(migration 0072), every worker listens (`listen`, started by the app's lifespan) and drops that
kind, so a marketer's edit applies on the next request in every worker. The TTL only bounds how
long a worker that missed a notification (its listening connection was down) can serve stale data.

Capabilities register their own loaders (`ReferenceKind`), so this module knows no capability."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from resolvers.model.catalog import Catalog, load_catalog
from sql.listen import listen as sql_listen

T = TypeVar("T")
CHANNEL = "gateway_reference"


@dataclass(frozen=True)
class ReferenceKind(Generic[T]):
    """One kind of reference data: its notification name and how to load it."""

    name: str
    load: Callable[[asyncpg.Pool], Awaitable[T]]


class ReferenceCache:
    """One value per (pool, kind); concurrent misses of a kind share one load."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], tuple[asyncpg.Pool, float, Any]] = {}
        self._loading: dict[tuple[int, str], asyncio.Future[Any]] = {}
        self.loads = 0  # for tests: how many loads ran

    async def get(self, pool: asyncpg.Pool, kind: ReferenceKind[T], ttl_s: float) -> T:
        key = (id(pool), kind.name)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is pool and entry[1] > time.monotonic():
            value: T = entry[2]
            return value
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(pool, kind, ttl_s))
            self._loading[key] = pending
            pending.add_done_callback(lambda _: self._loading.pop(key, None))
        result: T = await asyncio.shield(pending)
        return result

    async def _load(self, pool: asyncpg.Pool, kind: ReferenceKind[T], ttl_s: float) -> T:
        value = await kind.load(pool)
        self.loads += 1
        # Forget values of closed pools (tests and restarts create new ones).
        self._entries = {k: v for k, v in self._entries.items() if not v[0].is_closing()}
        self._entries[(id(pool), kind.name)] = (pool, time.monotonic() + ttl_s, value)
        return value

    def invalidate(self, name: str | None = None) -> None:
        """Drop one kind (or everything) for every pool of this worker."""
        self._entries = {k: v for k, v in self._entries.items() if name is not None and k[1] != name}
        for key, pending in list(self._loading.items()):
            if name is None or key[1] == name:
                # A load that started before the change may return old data: don't keep it.
                pending.add_done_callback(self._dropper(key))

    def _dropper(self, key: tuple[int, str]) -> Callable[[asyncio.Future[Any]], None]:
        def drop(_: asyncio.Future[Any]) -> None:
            self._entries.pop(key, None)

        return drop


REFERENCE = ReferenceCache()
CATALOG = ReferenceKind[Catalog]("catalog", load_catalog)


async def catalog(pool: asyncpg.Pool, ttl_s: float) -> Catalog:
    return await REFERENCE.get(pool, CATALOG, ttl_s)


async def listen(dsn: str) -> Callable[[], Awaitable[None]]:
    """Listen for reference changes on a dedicated connection (sql/listen.py); returns the
    function that stops it. Every (re)connection invalidates everything, since notifications may
    have been missed meanwhile; until connected, caches fall back to their TTL."""

    def on_change(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        REFERENCE.invalidate(payload or None)

    return await sql_listen(
        dsn, {CHANNEL: on_change}, "reference", on_up=lambda _conn: REFERENCE.invalidate()
    )

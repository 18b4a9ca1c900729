"""The layout ETag's inputs, kept per worker and dropped when PostgreSQL announces a change.

A layout ETag (gateway/persisted.py) is computed from version counters only: the public layout
rule version (`config_versions`) and, for a known user, `users.consent_version`,
`user_signals.layout_inputs_version` and `user_customization.version`. Reading them is the one
database round trip of a 304.
This cache keeps them in memory, so a matching If-None-Match is answered without any round trip,
and stays exact across workers and tools: migration 0520 announces every change of the user
counters on `gateway_versions` (payload: the user id, or '*'; 0521 adds every change of the
person's own settings, their first save included), migration 0072 announces rule
versions on `gateway_reference`, and every worker listens on one dedicated connection.

Rules that keep it from ever serving a version older than the last announced change:
- it is used only while the listening connection is up (`live`); when that connection is lost
  everything is dropped and every request reads the database until it is back;
- a value read from the database is kept only if no announcement for it arrived while it was
  being read (a read can race a commit);
- only users who have both rows are kept: inserts are not announced (bulk loads stay free).

What remains is the delivery time of a notification: a change committed through another worker
(or a tool) is seen here once its notification is delivered, normally well under a millisecond
on the same host; docs/performance.md states this window."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from privacy.guard import StateVersions, announced_state_versions
from sql.listen import listen as sql_listen

USERS_CHANNEL = "gateway_versions"
REFERENCE_CHANNEL = "gateway_reference"  # migration 0072; payload 'config_versions' for rules
MAX_USERS = 100_000  # users kept per worker (oldest first out): about 10 MiB at most
_CACHES: weakref.WeakSet[VersionCache] = weakref.WeakSet()


class VersionCache:
    def __init__(self, max_users: int = MAX_USERS) -> None:
        self.max_users = max_users
        self.live = False
        self._conn: asyncpg.Connection | None = None
        self._config: int | None = None
        self._users: dict[int, tuple[int, int, int]] = {}
        # Announcements are numbered; a read keeps its result only if nothing it covers was
        # announced after it started.
        self._seq = 0
        self._config_at = 0
        self._users_at = 0
        self._touched: dict[int, int] = {}
        self._reading = 0
        self.hits = 0
        self.reads = 0
        self.invalidations = 0
        _CACHES.add(self)

    async def settle(self) -> None:
        """Return once every change committed before this call has been applied here. A query
        on the listening connection is answered after the notifications committed before it
        (PostgreSQL sends them first; asyncpg dispatches them in order); for tests and tools."""
        conn = self._conn
        if conn is not None and not conn.is_closed():
            await conn.execute("SELECT 1")
            await asyncio.sleep(0)  # the listener callbacks run on the next loop iteration

    def peek(self, user_id: int | None) -> StateVersions | None:
        """The versions from memory, or None when they would need a read (not live, not kept)."""
        config = self._config
        if not self.live or config is None:
            return None
        if user_id is None:
            self.hits += 1
            return StateVersions(config, None, 0)
        entry = self._users.get(user_id)
        if entry is None:
            return None
        self.hits += 1
        return StateVersions(config, entry[0], entry[1], entry[2])

    async def get(self, pool: asyncpg.Pool, user_id: int | None) -> StateVersions:
        found = self.peek(user_id)
        if found is not None:
            return found
        start = self._seq
        self._reading += 1
        try:
            versions, announced = await announced_state_versions(pool, user_id)
        finally:
            self._reading -= 1
        self.reads += 1
        if self.live and self._config_at <= start:
            self._config = versions.config_version
        if (
            self.live
            and user_id is not None
            and announced
            and self._users_at <= start
            and self._touched.get(user_id, 0) <= start
        ):
            assert versions.consent_version is not None  # cacheable: the user row exists
            if len(self._users) >= self.max_users:
                self._users.pop(next(iter(self._users)))
            self._users[user_id] = (
                versions.consent_version,
                versions.layout_inputs_version,
                versions.customization_version,
            )
        if not self._reading:
            self._touched.clear()
        return versions

    def drop_user(self, user_id: int) -> None:
        self._seq += 1
        self.invalidations += 1
        self._users.pop(user_id, None)
        if self._reading:
            self._touched[user_id] = self._seq

    def drop_users(self) -> None:
        self._seq += 1
        self.invalidations += 1
        self._users_at = self._seq
        self._users = {}

    def drop_config(self) -> None:
        self._seq += 1
        self.invalidations += 1
        self._config_at = self._seq
        self._config = None

    def drop_all(self) -> None:
        self.drop_config()
        self.drop_users()

    def _on_users(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            self.drop_user(int(payload))
        else:
            self.drop_users()

    def _on_reference(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload in ("config_versions", ""):
            self.drop_config()

    async def listen(self, dsn: str) -> Callable[[], Awaitable[None]]:
        """Listen on a dedicated connection (sql/listen.py: re-opened when lost; the cache is off
        meanwhile); returns the function that stops it. Until connected, every ETag reads the
        database."""

        def up(conn: asyncpg.Connection) -> None:
            self.drop_all()  # whatever was announced while not listening is unknown
            self._conn = conn
            self.live = True

        def down() -> None:
            self.live = False
            self._conn = None
            self.drop_all()

        handlers = {USERS_CHANNEL: self._on_users, REFERENCE_CHANNEL: self._on_reference}
        return await sql_listen(dsn, handlers, "ETag version", on_up=up, on_down=down)


async def settle_all() -> None:
    """`settle` every cache of this process (tests: a change made by SQL, then a conditional GET)."""
    for cache in list(_CACHES):
        await cache.settle()

"""A dedicated LISTEN connection that stays up: opened, re-opened when lost (after a short pause),
closed when the returned function is called. Every per-worker cache that PostgreSQL keeps exact
with NOTIFY uses it (resolvers/model/reference.py, gateway/etag_cache.py): what is announced while
no connection listens is unknown, so `on_up` runs on every (re)connection and `on_down` whenever
the connection is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg

log = logging.getLogger(__name__)
Handler = Callable[[Any, int, str, str], None]


async def listen(
    dsn: str,
    handlers: Mapping[str, Handler],
    name: str,
    on_up: Callable[[asyncpg.Connection], None] = lambda _conn: None,
    on_down: Callable[[], None] = lambda: None,
    retry_s: float = 2.0,
    ready_timeout_s: float = 10.0,
) -> Callable[[], Awaitable[None]]:
    """Listen on `handlers`' channels; returns the function that stops listening. Waits up to
    `ready_timeout_s` for the first connection (or its first failure) before returning."""
    stopping = asyncio.Event()
    ready = asyncio.Event()

    async def run() -> None:
        while not stopping.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(dsn)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=closed: lost.set())
                for channel, handler in handlers.items():
                    await conn.add_listener(channel, handler)
                on_up(conn)
                ready.set()
                done = asyncio.ensure_future(stopping.wait())
                lost = asyncio.ensure_future(closed.wait())
                await asyncio.wait({done, lost}, return_when=asyncio.FIRST_COMPLETED)
                done.cancel()
                lost.cancel()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("%s listener: %s; retrying", name, type(exc).__name__)
                ready.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), retry_s)
            finally:
                on_down()
                if conn is not None and not conn.is_closed():
                    await conn.close()

    task = asyncio.ensure_future(run())
    try:
        await asyncio.wait_for(ready.wait(), ready_timeout_s)
    except TimeoutError:
        log.warning("%s listener not connected yet", name)

    async def stop() -> None:
        stopping.set()
        await task

    return stop

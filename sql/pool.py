"""The asyncpg pool: JSON codecs with orjson and a server-side statement timeout."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import asyncpg
import orjson


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(
    conn: asyncpg.Connection, query_logger: Callable[[Any], None] | None = None
) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")
    if query_logger is not None:
        conn.add_query_logger(query_logger)


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Run on release instead of asyncpg's default reset, which sends `pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL` (one more round trip for every query run on the pool).
    The gateway never sets session state on pooled connections (transaction-scoped locks and
    settings only), so all that is left to undo is a transaction left open by an error."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 5000,
    application_name: str = "gateway",
    query_logger: Callable[[Any], None] | None = None,
) -> asyncpg.Pool:
    """`query_logger` sees every statement run on the pool's connections (asyncpg's
    LoggedQuery): for tests that count round trips, and for debugging."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=partial(_init_connection, query_logger=query_logger),
        reset=_reset_connection,
        # A statement that runs away is cancelled by the server, so a slow query cannot hold
        # a connection (and a worker) forever.
        server_settings={
            "statement_timeout": str(statement_timeout_ms),
            "application_name": application_name,
        },
        command_timeout=max(1.0, statement_timeout_ms / 1000 * 2),
    )
    assert pool is not None
    return pool

"""Time partitions (migration 0310), managed without pg_partman: created ahead of time, dropped
whole once every row in them is past the retention cutoff.

Partition DDL waits for its lock at most `lock_timeout_ms`: a drop needs an exclusive lock on the
parent, and waiting behind a long query would queue every request on that table behind the drop.
On a timeout the job fails and is retried later with backoff."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from sql import load_queries

Q = load_queries()


async def partitioned_tables(conn: asyncpg.Pool | asyncpg.Connection) -> dict[str, str]:
    """Partitioned table -> its time column."""
    return {r["table_name"]: r["time_column"] for r in await conn.fetch(Q.time_partitioned_tables)}


async def ensure(pool: asyncpg.Pool, table: str, start: datetime, end: datetime, lock_timeout_ms: int) -> int:
    """Create the partitions of `table` covering [start, end] that do not exist; how many."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.set_lock_timeout, f"{lock_timeout_ms}ms")
        return int(await conn.fetchval(Q.ensure_time_partitions, table, start, end))


async def drop_before(pool: asyncpg.Pool, table: str, cutoff: datetime, lock_timeout_ms: int) -> list[str]:
    """Drop the partitions of `table` whose rows are all older than `cutoff`; their names."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.set_lock_timeout, f"{lock_timeout_ms}ms")
        return list(await conn.fetchval(Q.drop_time_partitions, table, cutoff))


async def relations_before(pool: asyncpg.Pool, table: str, cutoff: datetime) -> list[str]:
    """The relations of a partitioned `table` that may still hold rows older than `cutoff`."""
    return [r["name"] for r in await pool.fetch(Q.time_partitions_before, table, cutoff)]


async def delete_before(pool: asyncpg.Pool, relation: str, column: str, cutoff: datetime, batch: int) -> int:
    """Delete the rows of one plain relation older than `cutoff`, one committed batch at a time."""
    total = 0
    while True:
        n = int(await pool.fetchval(Q.delete_rows_before, relation, column, cutoff, batch))
        total += n
        if n < batch:
            return total

"""The benchmark database: DATABASE_URL, or an embedded server in <data_dir>; migrated, and
seeded with `gateway seed --users N --events M` when that command exists (and the database is
empty), else with plain accounts so the viewer query has someone to find."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from sql import migrate

FALLBACK_SEED = (Path(__file__).parent / "seed_fallback.sql").read_text()


async def _users(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM users"))
    finally:
        await conn.close()


async def _fallback(dsn: str, users: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(FALLBACK_SEED, users)
    finally:
        await conn.close()


def prepare(dsn: str, users: int, events: int) -> str:
    """Returns a line for the report saying how the data was made."""
    asyncio.run(migrate(dsn))
    have = asyncio.run(_users(dsn))
    if have > 0:
        return f"reused the existing database ({have} users)"
    if importlib.util.find_spec("gateway.seed") is not None:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "seed", "--users", str(users), "--events", str(events)],
            env={**os.environ, "DATABASE_URL": dsn},
            check=True,
        )
        return f"`gateway seed --users {users} --events {events}` ({time.monotonic() - started:.0f} s)"
    asyncio.run(_fallback(dsn, users))
    return f"{users} plain accounts (`gateway seed` not available in this build)"

"""The benchmark database: DATABASE_URL, or an embedded server in <data_dir>; migrated, and
seeded with `gateway seed --users N --events M` when that command exists (and the database is
empty), else with plain accounts so the viewer query has someone to find."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


SEED_TIMES = Path(".data/bench/seed-times.json")  # how long each seeding took, kept for reuse


def seed_time(users: int, events: int) -> dict[str, Any] | None:
    """The last recorded `gateway seed` of this size: {"seconds", "at"}, or None."""
    if not SEED_TIMES.exists():
        return None
    found = json.loads(SEED_TIMES.read_text()).get(f"{users}/{events}")
    return dict(found) if found else None


def prepare(dsn: str, users: int, events: int) -> str:
    """Returns a line for the report saying how the data was made."""
    asyncio.run(migrate(dsn))
    have = asyncio.run(_users(dsn))
    if have > 0:
        return f"reused the existing database ({have} users)"
    if importlib.util.find_spec("demo.seed") is not None:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "seed", "--users", str(users), "--events", str(events)],
            env={**os.environ, "DATABASE_URL": dsn},
            check=True,
        )
        took = time.monotonic() - started
        times = json.loads(SEED_TIMES.read_text()) if SEED_TIMES.exists() else {}
        times[f"{users}/{events}"] = {"seconds": round(took, 1), "at": datetime.now(UTC).isoformat()[:16]}
        SEED_TIMES.parent.mkdir(parents=True, exist_ok=True)
        SEED_TIMES.write_text(json.dumps(times, indent=1))
        return f"`gateway seed --users {users} --events {events}` ({took:.0f} s)"
    asyncio.run(_fallback(dsn, users))
    return f"{users} plain accounts (`gateway seed` not available in this build)"


async def owners(dsn: str) -> list[int]:
    """Users whose behavioural events the gateway keeps (by its own rule, on their consent
    snapshots), so a benchmark batch is stored whole, like the rows the COPY baseline writes.
    The scripted personas are left out: their events would change user 1's layout inputs and
    so the ETag the layout scenario revalidates."""
    from demo.personas import PERSONAS
    from privacy.snapshots import load_snapshots
    from resolvers.events.ingest import keeps_behaviour
    from sql.pool import create_pool

    pool = await create_pool(dsn, max_size=1, application_name="bench")
    try:
        rows = await pool.fetch("SELECT user_id FROM users ORDER BY user_id LIMIT $1", CANDIDATES)
        snapshots = await load_snapshots(pool, [int(r["user_id"]) for r in rows], False)
    finally:
        await pool.close()
    personas = {p.user_id for p in PERSONAS}
    return sorted(uid for uid, snap in snapshots.items() if keeps_behaviour(snap) and uid not in personas)


CANDIDATES = 5000


def event_owners(dsn: str) -> list[int]:
    return asyncio.run(owners(dsn))


BIG_DATABASE = "gateway_bench_big"


async def _create_big(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BIG_DATABASE):
            await conn.execute("CREATE DATABASE gateway_bench_big")
    finally:
        await conn.close()


def big_sibling(dsn: str, data_dir: Path) -> str:
    """The large database beside the embedded one (same server), created when missing."""
    from gateway.embedded import dsn_for

    asyncio.run(_create_big(dsn))
    return dsn_for((data_dir / "pg").resolve(), BIG_DATABASE)

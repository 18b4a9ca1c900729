"""Database probes that explain what bounds a scenario: the latency of one committed write
(every personalized read commits an audit row) with and without waiting for the WAL flush,
and of one indexed read."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from sql import load_queries

Q = load_queries()
ROUNDS = 100


async def _probe(dsn: str) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    out: dict[str, float] = {}
    try:
        for mode in ("on", "off"):
            await conn.execute("SELECT set_config('synchronous_commit', $1, false)", mode)
            start = time.perf_counter()
            for _ in range(ROUNDS):
                await conn.execute(
                    Q.insert_audit_entries,
                    "bench-probe",
                    "user",
                    "1",
                    [1],
                    ["essential"],
                    ["users"],
                    ["read"],
                )
            out[f"audit insert + commit, synchronous_commit={mode}"] = (time.perf_counter() - start) / ROUNDS
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await conn.fetchrow(Q.load_consent_snapshot, 1)
        out["consent snapshot read"] = (time.perf_counter() - start) / ROUNDS
    finally:
        await conn.close()
    return {k: round(v * 1000, 2) for k, v in out.items()}


def probe(dsn: str) -> dict[str, float]:
    return asyncio.run(_probe(dsn))

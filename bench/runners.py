"""Scenarios measured in process rather than over HTTP (server "custom").

- `copy_events`: raw asyncpg `copy_records_to_table` of exactly the rows the trackEvents
  scenario's batches carry (bench.documents.track_event_batches, taken in turn, fresh event
  ids), 100 rows per COPY, on as many connections as the load generator uses: the ceiling for
  storing events. Its `rps` is rows/s. `copy_events_same_users`: the same for the one batch the
  contention scenario repeats.
- `dp_noisy` / `dp_noiseless`: `privacy.dp.templates.run` vs `run_without_noise` for the same
  DPQuery over the same pool, one call at a time (latency). The answer cache and the budget
  ledger sit in the resolver above `run`, so every call here runs the real SQL.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from bench import database
from bench.documents import track_event_batches, track_events
from privacy.dp import templates
from privacy.dp.query import DPQuery, Template
from privacy.purposes import ESSENTIAL
from resolvers.analytics.args import params_from
from resolvers.config import DomainConfig
from resolvers.events.schema import INGEST_TABLES
from sql.pool import create_pool

EVENT_COLUMNS = (
    "user_id",
    "event_id",
    "type",
    "item_id",
    "value",
    "feature",
    "query",
    "platform",
    "occurred_at",
)
# The representative audience template: one pass over dp_audience (every consented user).
DP_QUERY = DPQuery(Template.USERS_BY, Decimal("1.0"), dimensions=("COUNTRY",))
DP_MIN_CALLS = 5
DP_TIMEOUT_MS = 120_000  # at 1M users one scan takes seconds; the API's own limit is not measured here


def _figures(latencies: list[float], units: int, elapsed: float) -> dict[str, Any]:
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": 0,
        "statuses": {},
        "rps": round(units / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def _rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The events table rows of one trackEvents batch (event ids left to fill)."""
    rows = []
    for e in events:
        rows.append(
            (
                int(e["userId"]),
                None,  # the event id: fresh per COPY
                e["type"].lower(),
                int(e["itemId"]) if "itemId" in e else None,
                None,
                e.get("feature"),
                None,
                e["platform"].lower(),
                datetime.fromisoformat(e["occurredAt"]),
            )
        )
    return rows


async def _batches(dsn: str, same_users: bool) -> list[list[tuple[Any, ...]]]:
    """The rows of the batches the trackEvents scenario sends (bench.documents)."""
    users = await database.owners(dsn)
    if same_users:
        return [_rows(track_events(users))]
    return [_rows(batch) for batch in track_event_batches(users)]


Write = Callable[[asyncpg.Connection, list[tuple[Any, ...]]], Awaitable[Any]]


async def _rows_per_second(
    dsn: str, duration: float, connections: int, templates: list[list[tuple[Any, ...]]], write: Write
) -> dict[str, Any]:
    """`write` of the batches' rows (fresh event ids each time) on `connections` connections for
    `duration` seconds, the batches taken in turn like the load generator's requests: rows/s."""
    latencies: list[float] = []
    turn = itertools.count()

    async def worker(until: float) -> int:
        conn = await asyncpg.connect(dsn)
        written = 0
        try:
            while time.perf_counter() < until:
                template = templates[next(turn) % len(templates)]
                rows = [(r[0], uuid.uuid4(), *r[2:]) for r in template]
                start = time.perf_counter()
                await write(conn, rows)
                latencies.append(time.perf_counter() - start)
                written += len(rows)
        finally:
            await conn.close()
        return written

    start = time.perf_counter()
    rows = await asyncio.gather(*(worker(start + duration) for _ in range(connections)))
    return _figures(latencies, sum(rows), time.perf_counter() - start)


async def _copy(dsn: str, duration: float, connections: int, same_users: bool) -> dict[str, Any]:
    async def copy(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
        await conn.copy_records_to_table("events", records=rows, columns=EVENT_COLUMNS)

    return await _rows_per_second(dsn, duration, connections, await _batches(dsn, same_users), copy)


def copy_events(dsn: str, duration: float, connections: int) -> dict[str, Any]:
    """The rows of the rotating batches (gateway_track_events_100)."""
    return asyncio.run(_copy(dsn, duration, connections, same_users=False))


def copy_events_same_users(dsn: str, duration: float, connections: int) -> dict[str, Any]:
    """The rows of the one batch every request repeats (gateway_track_events_100_same_users)."""
    return asyncio.run(_copy(dsn, duration, connections, same_users=True))


def ingest_args(q: Any, rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """ingest_events bound to these event rows as the gateway binds them for role app
    (resolvers/events/schema.py `_write`): the configured caps and the same audit context."""
    cfg = DomainConfig()
    cols = [[r[i] for r in rows] for i in range(len(EVENT_COLUMNS))]
    return tuple(
        q.ingest_events.bind(
            **dict(zip(INGEST_PARAMS, cols, strict=True)),
            offer_ids=[None] * len(rows),
            max_features=cfg.ingest.max_features_per_user,
            max_searches=cfg.model.searches_kept,
            max_purchases=cfg.ingest.max_purchased_items_per_user,
            max_cart_lines=cfg.ingest.max_cart_lines_per_user,
            a_request_id="bench-probe",
            a_role="app",
            a_principal="bench-app",
            a_purpose=ESSENTIAL,
            a_tables=list(INGEST_TABLES),
        )
    )


async def _statement(dsn: str, duration: float, connections: int) -> dict[str, Any]:
    """The gateway's ingest_events statement alone, on as many connections as the load generator
    uses, over the same rotating batches as `copy_events`: the database's ceiling for trackEvents
    (rows/s), measured under the same concurrency as COPY (commits shared by group commit)."""
    from sql import load_queries

    q = load_queries()

    async def ingest(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
        await conn.fetch(*ingest_args(q, rows))

    return await _rows_per_second(dsn, duration, connections, await _batches(dsn, same_users=False), ingest)


def ingest_statement(dsn: str, duration: float, connections: int) -> dict[str, Any]:
    """ingest_events alone for the rows of the rotating batches (rows/s)."""
    return asyncio.run(_statement(dsn, duration, connections))


# ingest_events' parameters for the columns of EVENT_COLUMNS, in that order.
INGEST_PARAMS = ("user_ids", "event_ids", "types", "item_ids", "values", "features", "queries", "platforms",
                 "occurred_at")  # fmt: skip


# The parts of ingest_events, each measured by leaving it out of the statement's text (the
# probe fails when the text no longer holds what it removes): what each costs per batch.
INGEST_PARTS: dict[str, tuple[str, str]] = {
    "rollups (apply_rollups)": ("(SELECT count(*) FROM rollups) r", "(SELECT 1) r"),
    "audit entries": (
        "FROM (SELECT DISTINCT user_id FROM ins) u",
        "FROM (SELECT 1 AS user_id WHERE false) u",
    ),
    "KEY SHARE locks on the accounts": ("FOR KEY SHARE", ""),
}
PARTS_OF = "ingest_events without its"  # probe keys: f"{PARTS_OF} {part}"


def _without(sql: str, cut: tuple[str, str]) -> str:
    old, new = cut
    if sql.count(old) != 1:
        raise RuntimeError(f"ingest_events changed: {old!r} is not in it once; update INGEST_PARTS")
    return sql.replace(old, new)


async def _ingest_probe(dsn: str) -> dict[str, float]:
    """One batch of 100 event rows, 30 times each, one at a time (median): raw COPY vs the gateway's
    ingest_events statement (rows + rollups + audit in one commit), without any Python layer;
    then the statement whole and without each of its parts, each rolled back (no commit)."""
    from sql import load_queries

    q = load_queries()
    templates = await _batches(dsn, same_users=False)
    conn = await asyncpg.connect(dsn)
    times: dict[str, list[float]] = {COPY_PROBE: [], INGEST_PROBE: [], COPY_ROLLED_BACK: [], ROLLED_BACK: []}
    times |= {f"{PARTS_OF} {part}": [] for part in INGEST_PARTS}

    variants = {ROLLED_BACK: q.ingest_events.text} | {
        f"{PARTS_OF} {part}": _without(q.ingest_events.text, cut) for part, cut in INGEST_PARTS.items()
    }
    try:
        # Alternating, so a checkpoint or a neighbour's burst hits both alike; medians reported.
        for n in range(PROBE_BATCHES):
            template = templates[n % len(templates)]
            for label in (COPY_PROBE, INGEST_PROBE, COPY_ROLLED_BACK, *variants):
                rows = [(r[0], uuid.uuid4(), *r[2:]) for r in template]
                start = time.perf_counter()
                if label == COPY_PROBE:
                    await conn.copy_records_to_table("events", records=rows, columns=EVENT_COLUMNS)
                elif label == COPY_ROLLED_BACK:
                    tx = conn.transaction()
                    await tx.start()
                    await conn.copy_records_to_table("events", records=rows, columns=EVENT_COLUMNS)
                    await tx.rollback()
                elif label == INGEST_PROBE:
                    await conn.fetch(*ingest_args(q, rows))
                else:
                    tx = conn.transaction()
                    await tx.start()
                    await conn.fetch(variants[label], *ingest_args(q, rows)[1:])
                    await tx.rollback()
                times[label].append(time.perf_counter() - start)
        out = {k: round(sorted(v)[len(v) // 2] * 1000, 2) for k, v in times.items()}
    finally:
        await conn.close()
    return out


PROBE_BATCHES = 30
COPY_PROBE = "COPY of 100 event rows"
INGEST_PROBE = "the gateway's ingest statements for 100 events (rows, rollups, audit; one commit)"
ROLLED_BACK = "ingest_events rolled back (no commit)"
COPY_ROLLED_BACK = "COPY of 100 event rows rolled back (no commit)"


def ingest_probe(dsn: str) -> dict[str, float]:
    return asyncio.run(_ingest_probe(dsn))


Run = Callable[[asyncpg.Pool], Awaitable[dict[str, Any]]]


async def _dp(dsn: str, duration: float, call: Run) -> dict[str, Any]:
    pool = await create_pool(dsn, max_size=2, statement_timeout_ms=DP_TIMEOUT_MS, application_name="bench")
    latencies: list[float] = []
    try:
        await call(pool)  # warm-up: plans and caches, not counted
        start = time.perf_counter()
        while time.perf_counter() < start + duration or len(latencies) < DP_MIN_CALLS:
            t = time.perf_counter()
            await call(pool)
            latencies.append(time.perf_counter() - t)
        return _figures(latencies, len(latencies), time.perf_counter() - start)
    finally:
        await pool.close()


def dp_noisy(dsn: str, duration: float, connections: int) -> dict[str, Any]:
    params = params_from(DomainConfig())
    return asyncio.run(_dp(dsn, duration, lambda pool: templates.run(pool, DP_QUERY, params)))


def dp_noiseless(dsn: str, duration: float, connections: int) -> dict[str, Any]:
    params = params_from(DomainConfig())
    return asyncio.run(_dp(dsn, duration, lambda pool: templates.run_without_noise(pool, DP_QUERY, params)))

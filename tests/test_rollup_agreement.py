"""The demo seed builds the rollups in bulk; ingestion maintains them batch by batch, with the same
function (apply_rollups). Analysts and the feed read the rollups, so both paths must give the same
rows for the same events, however they are split."""

from __future__ import annotations

import asyncpg

from sql import load_queries
from tests import world

Q = load_queries()
SIGNAL_COLUMNS = (
    "sessions, first_seen, last_seen, views, clicks, add_to_carts, purchases, bookings, total_spend_cents,"
    " spend_by_day, price_level_counts, feature_counts, category_affinity, purchased_items, cart,"
    " cart_value_cents, distinct_features"
)
ROLLUP_TABLES = ("user_signals", "user_spend_days", "user_purchases", "user_cart", "user_features",
                 "user_searches", "user_category_stats")  # fmt: skip


async def _snapshot(conn: asyncpg.Connection, users: list[int]) -> tuple[list[dict], list[dict]]:
    signals = await conn.fetch(
        f"SELECT user_id, {SIGNAL_COLUMNS} FROM user_rollups WHERE user_id = ANY($1) ORDER BY user_id", users
    )
    stats = await conn.fetch(
        "SELECT * FROM user_category_stats WHERE user_id = ANY($1) ORDER BY user_id, category", users
    )
    searches = await conn.fetch(
        "SELECT * FROM user_searches WHERE user_id = ANY($1) ORDER BY user_id, term", users
    )
    return [dict(r) for r in signals], [dict(r) for r in stats] + [dict(r) for r in searches]


async def test_ingestion_rebuilds_the_seeded_rollups(demo_dsn: str) -> None:
    conn = await world.connect(demo_dsn)
    try:
        users = [
            r["user_id"]
            for r in await conn.fetch(
                "SELECT user_id FROM events GROUP BY user_id HAVING count(*) > 20 ORDER BY user_id LIMIT 40"
            )
        ]
        assert len(users) >= 20
        seeded = await _snapshot(conn, users)
        events = await conn.fetch(
            "SELECT user_id, event_id, type, item_id, value, feature, query, platform, occurred_at"
            " FROM events WHERE user_id = ANY($1) ORDER BY occurred_at, event_id",
            users,
        )
        async with conn.transaction():
            for table in ("events", *ROLLUP_TABLES):
                await conn.execute(f"DELETE FROM {table} WHERE user_id = ANY($1)", users)
        for start in range(0, len(events), 500):  # several batches, as clients send them
            chunk = events[start : start + 500]
            columns = [[r[col] for r in chunk] for col in range(9)]
            await conn.fetch(
                *Q.ingest_events.bind(
                    user_ids=columns[0],
                    event_ids=columns[1],
                    types=columns[2],
                    item_ids=columns[3],
                    values=columns[4],
                    features=columns[5],
                    queries=columns[6],
                    platforms=columns[7],
                    occurred_at=columns[8],
                    offer_ids=[None] * len(chunk),
                    max_features=32,
                    max_searches=20,
                    max_purchases=200,
                    max_cart_lines=50,
                    a_request_id="rollup-check",
                    a_role="app",
                    a_principal="test",
                    a_purpose="essential.service",
                    a_tables=["events"],
                ),
            )
        rebuilt = await _snapshot(conn, users)
        assert rebuilt[1] == seeded[1], "user_category_stats differ"
        for before, after in zip(seeded[0], rebuilt[0], strict=True):
            assert after == before, f"user_signals differ for user {before['user_id']}"
    finally:
        await conn.close()

"""Audience test data written straight into the rollups (users, consents, user_signals,
user_category_stats), as ingestion would leave them. Deterministic from the user id."""

from __future__ import annotations

import asyncpg

USERS = """
INSERT INTO users (user_id, created_at, country, platform)
SELECT g, now() - interval '200 days', (ARRAY['US', 'DE', 'FR', 'GB'])[1 + g % 4],
       (ARRAY['web', 'ios', 'android'])[1 + g % 3]
FROM generate_series($1::bigint, $2::bigint) g
"""
CONSENTS = """
INSERT INTO consents (user_id, purpose, granted, method, notice_version)
SELECT g, 'analytics.aggregate', $3, 'explicit', 1 FROM generate_series($1::bigint, $2::bigint) g
"""
SIGNALS = """
WITH s AS (
    INSERT INTO user_signals (user_id, sessions, first_seen, last_seen, views, add_to_carts, purchases,
                              total_spend_cents, price_level_counts, distinct_features)
    SELECT g, g % 40, now() - interval '150 days', now() - make_interval(days => (g % 60)::int),
           g % 7, g % 5, g % 3, (g % 3) * 1500, ARRAY[(g % 2)::int, 1, (g % 3)::int, 0],
           1 + (g % 2)::int
    FROM generate_series($1::bigint, $2::bigint) g
    RETURNING user_id
), days AS (
    INSERT INTO user_spend_days (user_id, day, cents)
    SELECT g, current_date - (g % 60)::int, (g % 3) * 1500
    FROM generate_series($1::bigint, $2::bigint) g
)
INSERT INTO user_features (user_id, feature, uses)
SELECT g, f.name, f.uses
FROM generate_series($1::bigint, $2::bigint) g
CROSS JOIN LATERAL (VALUES ('search', 1 + g % 4), ('wishlist', g % 2)) AS f(name, uses)
WHERE f.uses > 0
"""
CATEGORY_STATS = """
INSERT INTO user_category_stats (user_id, category, views, add_to_carts, purchases, spend_cents)
SELECT g, c, 1 + g % 3, g % 2, g % 2, (g % 2) * 700
FROM generate_series($1::bigint, $2::bigint) g, unnest(ARRAY['apparel', 'beauty']) c
"""


async def seed_audience(dsn: str, first: int, last: int, consent: bool = True) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(USERS, first, last)
            await conn.execute(CONSENTS, first, last, consent)
            await conn.execute(SIGNALS, first, last)
            await conn.execute(CATEGORY_STATS, first, last)
    finally:
        await conn.close()


async def register(
    dsn: str,
    spender_id: str = "ana",
    role: str = "analyst",
    epsilon_cap: float | str = 10,
    delta_cap: float | str = "1e-5",
    dataset: str = "audience",
) -> None:
    """An analyst or marketer as an admin's createAnalyst leaves them (analysts get nothing
    before that)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO analysts (analyst_id, name, role, created_by) VALUES ($1, $1, $2, 'test')",
                spender_id,
                role,
            )
            await conn.execute(
                "INSERT INTO privacy_budgets (analyst_id, dataset, epsilon_cap, delta_cap)"
                " VALUES ($1, $2, $3::text::numeric, $4::text::numeric)",
                spender_id,
                dataset,
                str(epsilon_cap),
                str(delta_cap),
            )
    finally:
        await conn.close()


async def set_dataset_cap(dsn: str, epsilon_cap: float | str, dataset: str = "audience") -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE dataset_budgets SET epsilon_cap = $1::text::numeric WHERE dataset = $2",
            str(epsilon_cap),
            dataset,
        )
    finally:
        await conn.close()

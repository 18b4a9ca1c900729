"""A small personalization world built with direct SQL (the demo seed is built elsewhere):
a catalog with complements and substitutes, and users with consents and signal rollups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from sql.pool import _init_connection

NOW = datetime.now(UTC)
ALL_PURPOSES = (
    "personalize.content",
    "personalize.profiling",
    "marketing.offers",
    "marketing.communications.email",
    "marketing.communications.push",
    "analytics.aggregate",
)

# id, sku, name, category, subcategory, cents, level, repurchase days, sensitive, popularity, editorial
ITEMS: list[tuple[Any, ...]] = [
    (1, "coat-wool", "Wool coat", "apparel", "coats", 24000, 3, None, None, 50, None),
    (2, "coat-rain", "Rain coat", "apparel", "coats", 9000, 2, None, None, 60, None),
    (3, "gloves", "Leather gloves", "apparel", "gloves", 4000, 2, None, None, 20, None),
    (4, "scarf", "Cashmere scarf", "apparel", "scarves", 6000, 3, None, None, 15, None),
    (5, "hat", "Knitted hat", "apparel", "hats", 2500, 1, None, None, 12, None),
    (10, "phone-a", "Phone A", "electronics", "phones", 80000, 4, None, None, 90, None),
    (11, "phone-b", "Phone B", "electronics", "phones", 40000, 3, None, None, 85, None),
    (12, "phone-case", "Phone case", "electronics", "accessories", 2000, 1, None, None, 30, None),
    (13, "headphones", "Headphones", "electronics", "audio", 15000, 3, None, None, 40, 2),
    (20, "coffee", "Coffee beans", "grocery", "coffee", 1500, 2, 30, None, 70, None),
    (21, "bottle", "Water bottle", "sports", "bottles", 1800, 1, None, None, 25, None),
    (30, "preg-test", "Pregnancy test", "health", "tests", 1200, 1, None, "pregnancy", 95, None),
    (31, "vitamins", "Vitamins", "health", "supplements", 2200, 2, 60, "health", 80, None),
    (40, "lamp", "Desk lamp", "home", "lighting", 5000, 2, None, None, 10, 1),
    (41, "rug", "Rug", "home", "rugs", 12000, 3, None, None, 55, None),
]
RELATIONS = [
    (1, 3, "complement", 1.0),
    (1, 4, "complement", 0.8),
    (2, 3, "complement", 0.7),
    (1, 2, "substitute", 1.0),
    (10, 11, "substitute", 1.0),
    (10, 12, "complement", 1.0),
    (10, 13, "complement", 0.6),
    (31, 21, "complement", 1.0),  # a sensitive purchase must never drive this complement
    (30, 31, "complement", 1.0),
]
NOT_SENSITIVE = [i[0] for i in ITEMS if i[8] is None and i[3] != "health"]


async def build_catalog(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        """INSERT INTO items (item_id, sku, name, category, subcategory, kind, price_cents, price_level,
                              is_consumable, repurchase_days, sensitive_topic, popularity, editorial_rank)
           VALUES ($1, $2, $3, $4, $5, 'product', $6, $7, $8::int IS NOT NULL, $8::int, $9, $10, $11)""",
        ITEMS,
    )
    await conn.executemany(
        "INSERT INTO item_relations (item_id, related_item_id, relation, strength) VALUES ($1, $2, $3, $4)",
        RELATIONS,
    )


async def add_user(
    conn: asyncpg.Connection,
    user_id: int,
    *,
    level: str = "FULL",
    granted: tuple[str, ...] = ALL_PURPOSES,
    is_minor: bool = False,
    created_days_ago: int = 100,
    preferred_channel: str | None = None,
    subscribed: tuple[str, ...] = (),
    interests: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO users (user_id, created_at, personalization_level, is_minor, country, platform,
                              preferred_channel)
           VALUES ($1, $2, $3, $4, 'DE', 'ios', $5)""",
        user_id,
        NOW - timedelta(days=created_days_ago),
        level,
        is_minor,
        preferred_channel,
    )
    await conn.executemany(
        """INSERT INTO consents (user_id, purpose, granted, method, notice_version)
           VALUES ($1, $2, true, 'explicit', 1)""",
        [(user_id, p) for p in granted],
    )
    await conn.executemany(
        "INSERT INTO user_channels (user_id, channel, subscribed) VALUES ($1, $2, true)",
        [(user_id, c) for c in subscribed],
    )
    if interests is not None:
        await conn.execute(
            """INSERT INTO profile_fields (user_id, field, value, data_category, purpose, stage, source)
               VALUES ($1, 'interests', $2, 'user.preferences.interests', 'personalize.content', 'onboarding',
                       'stated_by_user')""",
            user_id,
            interests,
        )


async def set_signals(
    conn: asyncpg.Connection,
    user_id: int,
    *,
    sessions: int = 10,
    last_seen_days_ago: int = 1,
    affinity: dict[str, float] | None = None,
    purchased: dict[int, int] | None = None,  # item -> days ago
    cart: dict[int, int] | None = None,
    cart_value_cents: int = 0,
    cart_idle_minutes: int = 180,
    spend_by_day: dict[str, int] | None = None,
    price_levels: tuple[int, int, int, int] = (0, 0, 0, 0),
    searches: dict[str, int] | None = None,  # search text -> days ago
) -> None:
    """Write a user's rollups directly (the tables apply_rollups keeps), replacing what was there."""
    await conn.execute(
        """INSERT INTO user_signals (user_id, sessions, first_seen, last_seen, cart_value_cents,
                                     cart_updated_at, price_level_counts)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (user_id) DO UPDATE SET sessions = EXCLUDED.sessions, last_seen = EXCLUDED.last_seen,
             cart_value_cents = EXCLUDED.cart_value_cents, cart_updated_at = EXCLUDED.cart_updated_at,
             price_level_counts = EXCLUDED.price_level_counts""",
        user_id,
        sessions,
        NOW - timedelta(days=200),
        NOW - timedelta(days=last_seen_days_ago),
        cart_value_cents,
        NOW - timedelta(minutes=cart_idle_minutes) if cart else None,
        list(price_levels),
    )
    for table in ("user_category_stats", "user_purchases", "user_cart", "user_spend_days", "user_searches"):
        await conn.execute(f"DELETE FROM {table} WHERE user_id = $1", user_id)
    await conn.executemany(
        "INSERT INTO user_category_stats (user_id, category, affinity) VALUES ($1, $2, $3)",
        [(user_id, c, round(w * 1000)) for c, w in (affinity or {}).items()],
    )
    await conn.executemany(
        "INSERT INTO user_purchases (user_id, item_id, last_at, times) VALUES ($1, $2, $3, 1)",
        [(user_id, i, NOW - timedelta(days=d)) for i, d in (purchased or {}).items()],
    )
    await conn.executemany(
        "INSERT INTO user_cart (user_id, item_id, quantity) VALUES ($1, $2, $3)",
        [(user_id, i, q) for i, q in (cart or {}).items()],
    )
    await conn.executemany(
        "INSERT INTO user_spend_days (user_id, day, cents) VALUES ($1, $2::text::date, $3)",
        [(user_id, d, c) for d, c in (spend_by_day or {}).items()],
    )
    await conn.executemany(
        "INSERT INTO user_searches (user_id, term, last_at, times) VALUES ($1, $2, $3, 1)",
        [(user_id, q, NOW - timedelta(days=d)) for q, d in (searches or {}).items()],
    )


@asynccontextmanager
async def world(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test database, with the catalog built."""
    c = await asyncpg.connect(db_dsn)
    try:
        await _init_connection(c)
        await build_catalog(c)
        yield c
    finally:
        await c.close()

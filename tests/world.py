"""A tiny world for personalization tests, written with direct SQL (the demo seed is separate):
users with consents and levels, a small catalog, and helpers to read back rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

CONTENT = "personalize.content"
PROFILING = "personalize.profiling"
ANALYTICS = "analytics.aggregate"

# item_id: (category, kind, price_cents, price_level, sensitive_topic)
ITEMS: dict[int, tuple[str, str, int, int, str | None]] = {
    101: ("apparel", "product", 1500, 1, None),
    102: ("apparel", "product", 4000, 2, None),
    103: ("apparel", "product", 25000, 4, None),
    104: ("electronics", "product", 90000, 3, None),
    105: ("health", "product", 1200, 1, "health"),
    201: ("restaurants", "restaurant", 3000, 1, None),
    202: ("restaurants", "restaurant", 12000, 4, None),
}


def now() -> datetime:
    return datetime.now(UTC)


def ev(type_: str, *, ago_min: float = 5, **fields: Any) -> dict[str, Any]:
    """One EventInput as JSON variables; a fresh id unless given."""
    out: dict[str, Any] = {
        "id": str(fields.pop("id", uuid.uuid4())),
        "type": type_.upper(),
        "occurredAt": (now() - timedelta(minutes=ago_min)).isoformat(),
    }
    out.update(fields)
    return out


async def connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=str, decoder=json.loads, schema="pg_catalog")
    return conn


async def add_items(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        "INSERT INTO items (item_id, sku, name, category, subcategory, kind, price_cents, price_level,"
        " sensitive_topic) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
        [(i, f"sku-{i}", f"item {i}", c, k, p, lv, s) for i, (c, k, p, lv, s) in ITEMS.items()],
    )


async def add_user(
    conn: asyncpg.Connection,
    user_id: int,
    *,
    level: str = "FULL",
    purposes: Iterable[str] = (CONTENT, PROFILING, ANALYTICS),
    member_days: int = 1,
) -> None:
    await conn.execute(
        "INSERT INTO users (user_id, personalization_level, created_at) VALUES ($1, $2, $3)",
        user_id,
        level,
        now() - timedelta(days=member_days),
    )
    for purpose in purposes:
        await grant(conn, user_id, purpose, True)


async def grant(conn: asyncpg.Connection, user_id: int, purpose: str, granted: bool) -> None:
    """Set a consent as the privacy domain does: current row, receipt, consent_version bump."""
    await conn.execute(
        "INSERT INTO consents (user_id, purpose, granted, method, notice_version)"
        " VALUES ($1, $2, $3, 'explicit', 1)"
        " ON CONFLICT (user_id, purpose) DO UPDATE SET granted = excluded.granted, updated_at = now()",
        user_id,
        purpose,
        granted,
    )
    await conn.execute("UPDATE users SET consent_version = consent_version + 1 WHERE user_id = $1", user_id)


async def set_level(conn: asyncpg.Connection, user_id: int, level: str) -> None:
    await conn.execute(
        "UPDATE users SET personalization_level = $2, consent_version = consent_version + 1"
        " WHERE user_id = $1",
        user_id,
        level,
    )


async def signals(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """The user's rollups in one row (the narrow tables folded into JSON by the user_rollups view)."""
    return await conn.fetchrow("SELECT * FROM user_rollups WHERE user_id = $1", user_id)


async def event_count(conn: asyncpg.Connection, user_id: int | None = None) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM events WHERE ($1::bigint IS NULL OR user_id = $1)", user_id)
    )

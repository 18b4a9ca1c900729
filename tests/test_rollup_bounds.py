"""Every per-user rollup table is bounded by public configuration, however much one person sends:
items bought keep the most recent `max_purchases`, a cart at most `max_cart_lines` lines (later
new lines are not added), feature names `max_features` (privacy/PROOFS.md, "Timing"). The caps
are the statement's parameters, small here so the test is fast."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from sql import load_queries
from tests import world

Q = load_queries()
USER = 77


async def _ingest(conn: asyncpg.Connection, events: list[dict[str, Any]], **caps: int) -> None:
    bounds = {"max_features": 3, "max_searches": 20, "max_purchases": 4, "max_cart_lines": 2} | caps
    await conn.fetch(
        *Q.ingest_events.bind(
            user_ids=[USER] * len(events),
            event_ids=[uuid.uuid4() for _ in events],
            types=[e["type"] for e in events],
            item_ids=[e.get("item_id") for e in events],
            values=[e.get("value") for e in events],
            features=[e.get("feature") for e in events],
            queries=[None for _ in events],
            platforms=["web" for _ in events],
            occurred_at=[e["at"] for e in events],
            offer_ids=[None for _ in events],
            **bounds,
            a_request_id="bounds",
            a_role="app",
            a_principal="test",
            a_purpose="essential.service",
            a_tables=["events"],
        )
    )


def _buy(item_id: int, at: datetime) -> dict[str, Any]:
    return {"type": "purchase", "item_id": item_id, "value": 100, "at": at}


async def _cart(conn: asyncpg.Connection) -> list[tuple[int, int]]:
    rows = await conn.fetch("SELECT item_id, quantity FROM user_cart WHERE user_id = $1 ORDER BY 1", USER)
    return [(r["item_id"], r["quantity"]) for r in rows]


async def _items(conn: asyncpg.Connection, ids: range) -> None:
    await conn.executemany(
        "INSERT INTO items (item_id, sku, name, category, subcategory, kind, price_cents, price_level)"
        " VALUES ($1::bigint, 'sku-' || $1::bigint, 'item', 'apparel', 'tops', 'product',"
        " 100 * $1::bigint, 1)",
        [(i,) for i in ids],
    )


async def test_purchases_keep_the_most_recent_items_up_to_the_cap(db_dsn: str) -> None:
    conn = await world.connect(db_dsn)
    try:
        await world.add_items(conn)
        await _items(conn, range(900, 910))
        await world.add_user(conn, USER)
        start = datetime.now(UTC) - timedelta(days=2)
        # Ten distinct items over three batches, then a re-purchase of the oldest kept one.
        bought = [_buy(900 + i, start + timedelta(minutes=i)) for i in range(10)]
        for chunk in (bought[:3], bought[3:7], bought[7:]):
            await _ingest(conn, chunk)
        rows = await conn.fetch(
            "SELECT item_id, times FROM user_purchases WHERE user_id = $1 ORDER BY item_id", USER
        )
        assert [r["item_id"] for r in rows] == [906, 907, 908, 909]
        await _ingest(conn, [_buy(906, start + timedelta(hours=1))])
        rows = await conn.fetch(
            "SELECT item_id, times FROM user_purchases WHERE user_id = $1 ORDER BY item_id", USER
        )
        assert [(r["item_id"], r["times"]) for r in rows] == [(906, 2), (907, 1), (908, 1), (909, 1)]
        # The counters still count every purchase: only the per-item memory is bounded.
        assert await conn.fetchval("SELECT purchases FROM user_signals WHERE user_id = $1", USER) == 11
    finally:
        await conn.close()


async def test_cart_holds_at_most_the_cap_and_its_value_follows(db_dsn: str) -> None:
    conn = await world.connect(db_dsn)
    try:
        await world.add_items(conn)
        await _items(conn, range(900, 905))
        await world.add_user(conn, USER)
        at = datetime.now(UTC) - timedelta(hours=1)
        adds = [{"type": "add_to_cart", "item_id": i, "value": 1, "at": at} for i in range(900, 905)]
        await _ingest(conn, adds)
        assert await _cart(conn) == [(900, 1), (901, 1)]
        # A known line still changes past the cap; a new one is refused until a line goes.
        await _ingest(
            conn,
            [
                {"type": "add_to_cart", "item_id": 901, "value": 2, "at": at},
                {"type": "add_to_cart", "item_id": 903, "value": 1, "at": at},
            ],
        )
        assert await _cart(conn) == [(900, 1), (901, 3)]
        # The cap counts the lines held before a batch: a line removed frees a slot for the next.
        await _ingest(conn, [{"type": "remove_from_cart", "item_id": 900, "value": 1, "at": at}])
        await _ingest(conn, [{"type": "add_to_cart", "item_id": 904, "value": 2, "at": at}])
        assert await _cart(conn) == [(901, 3), (904, 2)]
        value = await conn.fetchval("SELECT cart_value_cents FROM user_signals WHERE user_id = $1", USER)
        assert value == 3 * 90_100 + 2 * 90_400
    finally:
        await conn.close()


async def test_feature_counter_matches_the_kept_names(db_dsn: str) -> None:
    conn = await world.connect(db_dsn)
    try:
        await world.add_user(conn, USER)
        at = datetime.now(UTC) - timedelta(hours=1)
        for names in (["a", "b"], ["a", "c", "d", "e"], ["f"]):
            await _ingest(conn, [{"type": "feature_used", "feature": n, "at": at} for n in names])
        kept = await conn.fetch("SELECT feature, uses FROM user_features WHERE user_id = $1 ORDER BY 1", USER)
        assert [(r["feature"], r["uses"]) for r in kept] == [("a", 2), ("b", 1), ("c", 1)]
        assert await conn.fetchval("SELECT distinct_features FROM user_signals WHERE user_id = $1", USER) == 3
    finally:
        await conn.close()

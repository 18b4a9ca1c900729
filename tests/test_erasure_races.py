"""Erasure racing ingestion: whatever the interleaving, nothing about the user is left behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from sql import load_queries
from tests import world
from tests.conftest import gql
from tests.test_events import TRACK

ERASE = "mutation { eraseMyData(confirm: true) { __typename } }"
Q = load_queries()


async def test_erasure_racing_event_batches_leaves_no_events(
    client: httpx.AsyncClient, token: Callable[..., str], db_dsn: str
) -> None:
    conn = await world.connect(db_dsn)
    try:
        await world.add_items(conn)
        for round_ in range(5):
            user_id = 10 + round_
            await world.add_user(conn, user_id)
            tok = token("user", user_id)
            app = token("app", "shop-backend")
            batches = [
                [world.ev("view", item_id=101), world.ev("purchase", item_id=102), world.ev("session_start")]
                for _ in range(4)
            ]
            for batch in batches:
                for e in batch:
                    e["userId"] = str(user_id)
            calls = [gql(client, TRACK, {"events": b}, token=app) for b in batches]
            calls.insert(2, gql(client, ERASE, token=tok))
            await asyncio.gather(*calls)
            for table in (
                "events",
                "user_signals",
                "user_category_stats",
                "user_cart",
                "user_purchases",
                "users",
            ):
                left = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", user_id)
                assert left == 0, f"{table} kept {left} rows of an erased user (round {round_})"
    finally:
        await conn.close()


async def test_erasure_waits_for_an_uncommitted_batch(db_dsn: str) -> None:
    """Deterministic interleaving: a batch is inserted but not committed when the erasure starts.
    The erasure must wait for it and then delete its events (they were invisible to it before).
    A session event touches no table with a foreign key to users, so only the batch's own lock on
    the account row can make the erasure wait."""
    setup = await world.connect(db_dsn)
    writer = await world.connect(db_dsn)
    eraser = await world.connect(db_dsn)
    try:
        await world.add_items(setup)
        await world.add_user(setup, 42)
        await setup.execute("INSERT INTO user_signals (user_id) VALUES (42)")
        tx = writer.transaction()
        await tx.start()
        await writer.fetch(*Q.ingest_events.bind(
                user_ids=[42], event_ids=[uuid.uuid4()], types=["session_start"], item_ids=[None],
                values=[None], features=[None], queries=[None], platforms=["web"],
                occurred_at=[datetime.now(UTC)], offer_ids=[None], max_features=32, max_searches=20,
                max_purchases=200, max_cart_lines=50,
                a_request_id="req-race", a_role="app", a_principal="shop-backend",
                a_purpose="essential.service", a_tables=["events"],
            ),
        )  # fmt: skip
        erasure = asyncio.create_task(eraser.fetch("SELECT * FROM erase_user(42)"))
        await asyncio.sleep(0.5)
        assert not erasure.done(), "erasure ran past an uncommitted batch of the same user"
        await tx.commit()
        await erasure
        assert await setup.fetchval("SELECT count(*) FROM events WHERE user_id = 42") == 0
    finally:
        for c in (setup, writer, eraser):
            await c.close()

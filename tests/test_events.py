"""trackEvents over HTTP on a real PostgreSQL: idempotency, all-or-nothing validation with
index and field, consent-based dropping, roles, and rollups that stay consistent with the events
table under concurrent batches."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests import world
from tests.conftest import gql

# What a batch's write audit names, per user and batch: the events (the rollups are derived from
# them in the same statement; resolvers/events/schema.py).
INGEST_TABLES = ("events",)

TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) {
    __typename
    ... on TrackEventsResult {
      accepted duplicates droppedNoConsent acceptedIds duplicateIds droppedNoConsentIds
    }
    ... on InvalidInput { message errors { field message index } }
  }
}"""


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, 1)
    await world.add_user(conn, 2, purposes=())  # consented to nothing optional
    try:
        yield conn
    finally:
        await conn.close()


async def track(client: httpx.AsyncClient, tok: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = await gql(client, TRACK, {"events": events}, token=tok)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["trackEvents"]
    return result


async def test_resent_events_are_no_ops(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", 1)
    batch = [world.ev("view", itemId="101"), world.ev("purchase", itemId="102"), world.ev("session_start")]
    first = await track(client, tok, batch)
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    before = await world.signals(db, 1)
    again = await track(client, tok, [*batch, world.ev("click", itemId="101")])
    assert (again["accepted"], again["duplicates"]) == (1, 3)
    assert set(again["duplicateIds"]) == {e["id"] for e in batch}
    after = await world.signals(db, 1)
    assert before is not None and after is not None
    assert (after["views"], after["purchases"], after["sessions"], after["clicks"]) == (1, 1, 1, 1)
    assert after["total_spend_cents"] == before["total_spend_cents"] == 4000  # default: the item's price
    assert await world.event_count(db, 1) == 4
    # Each batch that wrote audits the write, in the same transaction.
    writes = await db.fetch("SELECT table_name FROM audit_log WHERE subject_user_id = 1 AND action = 'write'")
    assert sorted(r["table_name"] for r in writes) == sorted(list(INGEST_TABLES) * 2)


async def test_one_invalid_event_stores_nothing_and_names_index_and_field(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    good = [world.ev("view", itemId="101") for _ in range(5)]
    bad = [
        *good[:3],
        world.ev("view", itemId="101", ago_min=-60),  # an hour in the future
        *good[3:],
        world.ev("booking", itemId="101"),  # a product, not a restaurant
        world.ev("dwell", itemId="101", value=-5),
        world.ev("view", itemId="999"),
        world.ev("search"),
        {"id": "not-a-uuid", "type": "VIEW", "occurredAt": world.now().isoformat(), "itemId": "101"},
        world.ev("view", itemId="101", ago_min=60 * 24 * 31),
    ]
    result = await track(client, token("user", 1), bad)
    assert result["__typename"] == "InvalidInput"
    found = {(e["index"], e["field"]) for e in result["errors"]}
    assert found == {
        (3, "events[3].occurredAt"),
        (6, "events[6].itemId"),
        (7, "events[7].value"),
        (8, "events[8].itemId"),
        (9, "events[9].query"),
        (10, "events[10].id"),
        (11, "events[11].occurredAt"),
    }
    assert await world.event_count(db) == 0
    assert await world.signals(db, 1) is None


async def test_batch_size_bounds(client: httpx.AsyncClient, token: Callable[..., str], db: Any) -> None:
    tok = token("user", 1)
    too_many = [world.ev("session_start") for _ in range(1001)]
    result = await track(client, tok, too_many)
    assert result["__typename"] == "InvalidInput"
    assert result["errors"][0]["field"] == "events"
    assert (await track(client, tok, []))["__typename"] == "InvalidInput"
    assert await world.event_count(db) == 0
    assert (await track(client, tok, too_many[:1000]))["accepted"] == 1000


async def test_users_send_only_their_own_events_and_apps_name_a_user(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    mine = await track(client, token("user", 1), [world.ev("session_start", userId="1")])
    assert mine["accepted"] == 1
    other = await track(
        client, token("user", 1), [world.ev("session_start"), world.ev("session_start", userId="2")]
    )
    assert other["__typename"] == "InvalidInput"
    assert [(e["index"], e["field"]) for e in other["errors"]] == [(1, "events[1].userId")]
    app = await track(
        client,
        token("app", "checkout"),
        [world.ev("purchase", userId="2", itemId="101"), world.ev("session_start")],
    )
    assert [(e["index"], e["field"], e["message"]) for e in app["errors"]] == [
        (1, "events[1].userId", "required for role app")
    ]
    app_ok = await track(client, token("app", "checkout"), [world.ev("purchase", userId="2", itemId="101")])
    assert app_ok["accepted"] == 1
    denied = await gql(client, TRACK, {"events": [world.ev("session_start")]}, token=token("analyst", "a1"))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await world.event_count(db) == 2


async def test_an_app_cannot_tell_unknown_users_from_users_without_consent(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    """User 1 consented, user 2 consented to nothing, user 77 does not exist: an app gets the same
    answer for all three, first send and resend alike. Only malformed input is an error."""
    app = token("app", "checkout")

    def batch(user: int) -> list[dict[str, Any]]:
        return [
            world.ev("view", userId=str(user), itemId="101", id=uuid.UUID(int=user * 10 + n))
            for n in range(3)
        ]

    answers = {}
    for user in (1, 2, 77):
        events = batch(user)  # a resend is the same documents (same id and occurredAt)
        first = await track(client, app, events)
        again = await track(client, app, events)
        ids = {str(uuid.UUID(int=user * 10 + n)) for n in range(3)}
        for answer in (first, again):
            assert set(answer.pop("acceptedIds")) == ids
        answers[user] = (first, again)
    assert answers[1] == answers[2] == answers[77], answers
    assert answers[1][0] == {
        "__typename": "TrackEventsResult",
        "accepted": 3,
        "duplicates": 0,
        "droppedNoConsent": 0,
        "duplicateIds": [],
        "droppedNoConsentIds": [],
    }
    # what happened is what consent allows: user 1's views are stored once, the others' not at all
    assert await world.event_count(db, 1) == 3
    assert await world.event_count(db, 2) == await world.event_count(db, 77) == 0
    # malformed input still gets its field-level error, for any user id
    bad = await track(client, app, [world.ev("view", userId="77", itemId="99999999999999999999999")])
    assert [e["field"] for e in bad["errors"]] == ["events[0].itemId"]
    # the user themself still learns what became of their own events
    mine = await track(client, token("user", 2), [world.ev("view", itemId="101")])
    assert mine["droppedNoConsent"] == 1


async def test_behavioural_events_without_consent_are_not_stored(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    batch = [
        world.ev("view", itemId="101"),
        world.ev("click", itemId="101"),
        world.ev("dwell", itemId="101", value=1200),
        world.ev("search", query="coat"),
        world.ev("add_to_cart", itemId="102", value=2),
        world.ev("purchase", itemId="101"),
        world.ev("booking", itemId="201", value=2),
        world.ev("session_start"),
    ]
    result = await track(client, token("user", 2), batch)
    assert (result["accepted"], result["droppedNoConsent"]) == (4, 4)
    assert set(result["droppedNoConsentIds"]) == {e["id"] for e in batch[:4]}
    stored = {r["type"] for r in await db.fetch("SELECT type FROM events WHERE user_id = 2")}
    assert stored == {"add_to_cart", "purchase", "booking", "session_start"}
    s = await world.signals(db, 2)
    assert s is not None and s["views"] == 0 and s["cart"] == {"102": 2} and s["cart_value_cents"] == 8000
    # Granting one purpose that uses activity is enough.
    await world.grant(db, 2, world.ANALYTICS, True)
    assert (await track(client, token("user", 2), [world.ev("view", itemId="101")]))["accepted"] == 1


async def test_rollup_shapes(client: httpx.AsyncClient, token: Callable[..., str], db: Any) -> None:
    batch = [
        world.ev("view", itemId="101"),
        world.ev("click", itemId="101"),
        world.ev("add_to_cart", itemId="102"),
        world.ev("add_to_cart", itemId="103"),
        world.ev("purchase", itemId="103", value=20000),
        world.ev("view", itemId="105"),  # sensitive: never in category_affinity
        world.ev("booking", itemId="202"),
        world.ev("feature_used", feature="wishlist"),
        world.ev("feature_used", feature="wishlist"),
        world.ev("feature_used", feature="search"),
    ]
    assert (await track(client, token("user", 1), batch))["accepted"] == 10
    s = await world.signals(db, 1)
    assert s is not None
    assert s["category_affinity"] == {"apparel": 1 + 2 + 3 + 3 + 5}
    assert s["feature_counts"] == {"wishlist": 2, "search": 1}
    assert s["price_level_counts"] == [0, 0, 0, 2]
    assert s["cart"] == {"102": 1} and s["cart_value_cents"] == 4000  # the purchased item left the cart
    assert list(s["purchased_items"]) == ["103"] and s["purchased_items"]["103"].endswith("Z")
    assert sum(s["spend_by_day"].values()) == s["total_spend_cents"] == 20000
    stats = {r["category"]: r for r in await db.fetch("SELECT * FROM user_category_stats WHERE user_id = 1")}
    assert stats["apparel"]["views"] == 1 and stats["apparel"]["purchases"] == 1
    assert "health" not in stats  # sensitive: left out when the rollup is computed (the event is kept)
    assert await db.fetchval("SELECT count(*) FROM events WHERE user_id = 1 AND item_id = 105") == 1


# The rollup's rules recomputed from the events: sensitive items count nowhere.
RECOMPUTE = """
SELECT count(*) FILTER (WHERE e.type = 'session_start') AS sessions,
       count(*) FILTER (WHERE e.type = 'view' AND NOT i.sensitive) AS views,
       count(*) FILTER (WHERE e.type = 'click' AND NOT i.sensitive) AS clicks,
       count(*) FILTER (WHERE e.type = 'add_to_cart' AND NOT i.sensitive) AS add_to_carts,
       count(*) FILTER (WHERE e.type = 'purchase' AND NOT i.sensitive) AS purchases,
       coalesce(sum(e.value) FILTER (WHERE e.type = 'purchase' AND NOT i.sensitive), 0) AS total_spend_cents,
       min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen,
       ARRAY[count(*) FILTER (WHERE e.type IN ('purchase', 'booking') AND i.price_level = 1),
             count(*) FILTER (WHERE e.type IN ('purchase', 'booking') AND i.price_level = 2),
             count(*) FILTER (WHERE e.type IN ('purchase', 'booking') AND i.price_level = 3),
             count(*) FILTER (WHERE e.type IN ('purchase', 'booking') AND i.price_level = 4)]::int[]
           AS price_level_counts,
       sum(CASE e.type WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'add_to_cart' THEN 3 WHEN 'purchase' THEN 5
           ELSE 0 END) FILTER (WHERE i.sensitive_topic IS NULL) AS affinity_total
FROM events e LEFT JOIN items i USING (item_id)
WHERE e.user_id = $1
"""


async def test_concurrent_batches_keep_signals_consistent(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", 1)
    kinds = [
        ("view", {"itemId": "101"}),
        ("click", {"itemId": "102"}),
        ("add_to_cart", {"itemId": "101"}),
        ("purchase", {"itemId": "104"}),
        ("session_start", {}),
        ("feature_used", {"feature": "scan"}),
        ("view", {"itemId": "105"}),
    ]
    pool = [world.ev(k, ago_min=n % 50, **f) for n in range(140) for k, f in [kinds[n % len(kinds)]]]
    # Eight batches of 40 sliding over the pool: every event is sent two or three times.
    batches = [pool[i * 15 : i * 15 + 40] for i in range(8)]
    results = await asyncio.gather(*(track(client, tok, b) for b in batches))
    assert sum(r["accepted"] for r in results) == len({e["id"] for b in batches for e in b})
    assert sum(r["accepted"] + r["duplicates"] for r in results) == sum(len(b) for b in batches)
    s = await world.signals(db, 1)
    truth = await db.fetchrow(RECOMPUTE, 1)
    assert s is not None
    for column in (
        "sessions",
        "views",
        "clicks",
        "add_to_carts",
        "purchases",
        "total_spend_cents",
        "first_seen",
        "last_seen",
        "price_level_counts",
    ):
        assert s[column] == truth[column], column
    assert sum(s["category_affinity"].values()) == truth["affinity_total"]
    assert s["feature_counts"] == {
        "scan": await db.fetchval("SELECT count(*) FROM events WHERE user_id = 1 AND type = 'feature_used'")
    }
    assert sum(s["spend_by_day"].values()) == truth["total_spend_cents"]
    views = await db.fetchval("SELECT sum(views) FROM user_category_stats WHERE user_id = 1")
    assert views == truth["views"]
    assert uuid.UUID(results[0]["acceptedIds"][0])


async def test_concurrent_app_batches_for_several_users_do_not_deadlock(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    await world.grant(db, 2, world.CONTENT, True)
    tok = token("app", "backend")
    batches = [
        [
            world.ev("view", userId=str(u), itemId="101")
            for u in ((1, 2) if n % 2 else (2, 1))
            for _ in range(20)
        ]
        for n in range(6)
    ]
    results = await asyncio.gather(*(track(client, tok, b) for b in batches))
    assert all(r["accepted"] == 40 for r in results)
    for uid in (1, 2):
        s = await world.signals(db, uid)
        assert s is not None and s["views"] == 120 == await world.event_count(db, uid)
        assert s["category_affinity"] == {"apparel": 120}

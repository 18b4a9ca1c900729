"""End to end: events ingested through trackEvents drive the feed and offers (the rollup the
ingestion keeps is exactly the snapshot the decisions read)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from privacy.principal import Role
from tests import world as events_world
from tests.conftest import gql
from tests.personalization_world import add_user, world

TRACK = """mutation($e: [EventInput!]!) { trackEvents(events: $e) { __typename } }"""
FEED = """{ viewer { feed(surface: HOME, limit: 5) { item { id }
  why { mode reasons { code sourceItemId sourceItemName } } } } }"""
OFFERS = "{ viewer { offers(surface: OFFERS) { offer { name } why { reasons { code } } } } }"


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


async def test_tracked_purchase_and_cart_drive_feed_and_offers(client, conn, token) -> None:
    await add_user(conn, 600)
    tok = token(sub=600)
    ev = events_world.ev
    batch = [
        ev("session_start", ago_min=200),
        ev("view", itemId="1", ago_min=190),
        ev("purchase", itemId="1", ago_min=180),
        ev("add_to_cart", itemId="41", ago_min=120),
    ]
    tracked = await gql(client, TRACK, {"e": batch}, token=tok)
    assert tracked["data"]["trackEvents"]["__typename"] == "TrackEventsResult", tracked
    rows = (await gql(client, FEED, token=tok))["data"]["viewer"]["feed"]
    got = [r["item"]["id"] for r in rows]
    assert got[0] == "3" and not {"1", "2", "41"} & set(got)
    related = rows[0]["why"]["reasons"][0]
    assert related == {"code": "PURCHASED_RELATED", "sourceItemId": "1", "sourceItemName": "Wool coat"}
    offer = {
        "name": "Cart",
        "kind": "abandoned_cart",
        "params": {"min_cart_value_cents": 10000, "idle_minutes": 60},
    }
    made = await gql(
        client,
        "mutation($i: OfferInput!) { createOffer(input: $i) { __typename } }",
        {"i": offer},
        token=token(Role.MARKETER, "m"),
    )
    assert made["data"]["createOffer"]["__typename"] == "Offer"
    # The cart (a 120 EUR rug) was updated at ingestion time, i.e. just now: not abandoned yet.
    assert (await gql(client, OFFERS, token=tok))["data"]["viewer"]["offers"] == []
    await conn.execute(
        "UPDATE user_signals SET cart_updated_at = now() - interval '2 hours' WHERE user_id = 600"
    )
    served = (await gql(client, OFFERS, token=tok))["data"]["viewer"]["offers"]
    assert served == [{"offer": {"name": "Cart"}, "why": {"reasons": [{"code": "CART_ABANDONED"}]}}]

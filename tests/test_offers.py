"""Offers: kind rules (abandoned cart, welcome, re-engagement, spend), consent refusals, marketer
validation, and frequency caps that hold across devices and concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from privacy.principal import Role
from resolvers.config import DomainConfig
from resolvers.offers.config import OffersConfig
from tests.conftest import gql, running_client
from tests.personalization_world import add_user, set_signals, world

CREATE_OFFER = """mutation($i: OfferInput!) { createOffer(input: $i) {
  __typename ... on Offer { id kind params } ... on InvalidInput { errors { field message } } } }"""
UPDATE_OFFER = """mutation($id: ID!, $i: OfferInput!) { updateOffer(offerId: $id, input: $i) {
  __typename ... on Offer { id name active } ... on InvalidInput { errors { field message } } } }"""
OFFERS = """{ viewer { offers(surface: OFFERS) { offer { id name kind discountPct }
  why { mode summary purposes matchedCriteria reasons { code } } } } }"""


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


async def make_offer(client: Any, token: Any, **spec: Any) -> str:
    body = await gql(client, CREATE_OFFER, {"i": spec}, token=token(Role.MARKETER, "m1"))
    result = body["data"]["createOffer"]
    assert result["__typename"] == "Offer", result
    return str(result["id"])


async def offers(client: Any, tok: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    body = await gql(client, OFFERS, token=tok, headers=headers)
    assert "errors" not in body, body
    return list(body["data"]["viewer"]["offers"])


async def test_abandoned_cart_above_threshold_only(client, conn, token) -> None:
    oid = await make_offer(
        client,
        token,
        name="Cart",
        kind="abandoned_cart",
        discountPct=10,
        params={"min_cart_value_cents": 10000, "idle_minutes": 30},
    )
    await add_user(conn, 300)
    await set_signals(conn, 300, cart={1: 1}, cart_value_cents=24000, cart_idle_minutes=120)
    await add_user(conn, 301)
    await set_signals(conn, 301, cart={3: 1}, cart_value_cents=4000, cart_idle_minutes=120)
    await add_user(conn, 302)  # above the value, but the cart was touched a minute ago
    await set_signals(conn, 302, cart={1: 1}, cart_value_cents=24000, cart_idle_minutes=1)
    above = await offers(client, token(sub=300))
    assert [o["offer"]["id"] for o in above] == [oid]
    why = above[0]["why"]
    assert why["reasons"][0]["code"] == "CART_ABANDONED" and why["purposes"] == ["marketing.offers"]
    assert "€100" in why["matchedCriteria"][0] and "240" not in str(why)  # the threshold, not the value
    assert await offers(client, token(sub=301)) == []
    assert await offers(client, token(sub=302)) == []


async def test_kinds_and_consent_refusals(client, conn, token) -> None:
    welcome = await make_offer(client, token, name="Welcome", kind="welcome", params={"max_days": 7})
    back = await make_offer(client, token, name="Back", kind="re_engagement", params={"days_inactive": 30})
    spend = await make_offer(
        client, token, name="Thanks", kind="spend_over", params={"min_spend_cents": 10000}
    )
    await add_user(conn, 310, created_days_ago=2)
    await add_user(conn, 311)
    await set_signals(conn, 311, last_seen_days_ago=45, purchased={1: 50}, spend_by_day={"2099-01-01": 30000})
    await add_user(conn, 312, created_days_ago=2, is_minor=True)
    await set_signals(conn, 312, last_seen_days_ago=45)
    await add_user(conn, 313, created_days_ago=2)
    await set_signals(conn, 313, last_seen_days_ago=45)
    assert [o["offer"]["id"] for o in await offers(client, token(sub=310))] == [welcome]
    got = await offers(client, token(sub=311))
    assert sorted(o["offer"]["id"] for o in got) == sorted([back, spend])
    # A minor gets no activity-based (profiling) offer; the welcome gift uses account data only.
    assert [o["offer"]["id"] for o in await offers(client, token(sub=312))] == [welcome]
    # GPC on the request: marketing is off, and nothing about the user is read for it.
    response = await client.post(
        "/graphql",
        json={"query": OFFERS},
        headers={"Authorization": f"Bearer {token(sub=313)}", "Sec-GPC": "1"},
    )
    assert response.json()["data"]["viewer"]["offers"] == []
    tables = await conn.fetch(
        "SELECT table_name FROM audit_log WHERE request_id = $1", response.headers["x-request-id"]
    )
    assert "user_signals" not in {t["table_name"] for t in tables}
    await conn.execute("UPDATE users SET objected_to_marketing = true WHERE user_id = 311")
    assert await offers(client, token(sub=311)) == []


async def test_offer_validation(client, conn, token) -> None:
    tok = token(Role.MARKETER, "m1")
    cases = [
        (
            {"name": "x", "kind": "abandoned_cart", "params": {"min_cart_value_cents": -1}},
            "params.min_cart_value_cents",
        ),
        ({"name": "x", "kind": "welcome", "params": {"bogus": 1}}, "params.bogus"),
        ({"name": "x", "kind": "lottery"}, "input.kind"),
        ({"name": "x", "kind": "welcome", "discountPct": 120}, "input.discount_pct"),
        ({"name": "x", "kind": "welcome", "itemId": "30"}, "input.itemId"),  # a sensitive item
        ({"name": "x", "kind": "segment", "segmentId": "999"}, "input.segmentId"),
        ({"name": "", "kind": "welcome"}, "input.name"),
    ]
    for spec, field in cases:
        result = (await gql(client, CREATE_OFFER, {"i": spec}, token=tok))["data"]["createOffer"]
        assert result["__typename"] == "InvalidInput", spec
        assert field in [e["field"] for e in result["errors"]], (spec, result)
    assert await conn.fetchval("SELECT count(*) FROM offers") == 0
    forbidden = await gql(client, CREATE_OFFER, {"i": {"name": "x", "kind": "welcome"}}, token=token(sub=1))
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    oid = await make_offer(client, token, name="W", kind="welcome")
    updated = await gql(
        client, UPDATE_OFFER, {"id": oid, "i": {"name": "W2", "kind": "welcome", "active": False}}, token=tok
    )
    assert updated["data"]["updateOffer"] == {"__typename": "Offer", "id": oid, "name": "W2", "active": False}


async def test_offer_cap_holds_across_devices_and_concurrent_requests(client, conn, token) -> None:
    oid = await make_offer(
        client,
        token,
        name="Cart",
        kind="abandoned_cart",
        params={"min_cart_value_cents": 100},
        capPerWindow=2,
        capWindowHours=24,
    )
    await add_user(conn, 320)
    await set_signals(conn, 320, cart={1: 1}, cart_value_cents=24000)
    tok = token(sub=320)
    results = await asyncio.gather(
        *(offers(client, tok, headers={"x-device-id": f"device-{i % 2}"}) for i in range(8))
    )
    served = sum(1 for r in results if any(o["offer"]["id"] == oid for o in r))
    assert served == 2
    rows = await conn.fetch(
        "SELECT device_id FROM impressions WHERE user_id = 320 AND offer_id = $1", int(oid)
    )
    assert len(rows) == 2
    assert await offers(client, tok, headers={"x-device-id": "device-new"}) == []


async def test_user_cap_is_stricter_than_offer_caps(settings, conn, token) -> None:
    strict = settings.model_copy(update={"domain": DomainConfig(offers=OffersConfig(user_offer_cap=3))})
    async with running_client(strict) as client:
        for name in ("A", "B"):
            await make_offer(
                client,
                token,
                name=name,
                kind="abandoned_cart",
                params={"min_cart_value_cents": 100},
                capPerWindow=5,
                capWindowHours=24,
            )
        await add_user(conn, 330)
        await set_signals(conn, 330, cart={1: 1}, cart_value_cents=24000)
        tok = token(sub=330)
        results = await asyncio.gather(
            *(offers(client, tok, headers={"x-device-id": f"d{i % 3}"}) for i in range(6))
        )
    assert sum(len(r) for r in results) == 3
    assert await conn.fetchval("SELECT count(*) FROM impressions WHERE user_id = 330") == 3


async def test_params_may_be_left_out_or_null(client, token) -> None:
    """`params` defaults to null (an object default breaks introspection); null means no params."""
    for spec in ({"name": "Hi", "kind": "welcome"}, {"name": "Hi", "kind": "welcome", "params": None}):
        body = await gql(client, CREATE_OFFER, {"i": spec}, token=token(Role.MARKETER, "m1"))
        assert body["data"]["createOffer"]["params"] == {}
    not_an_object = {"name": "x", "kind": "welcome", "params": []}
    body = await gql(client, CREATE_OFFER, {"i": not_an_object}, token=token(Role.MARKETER))
    assert body["data"]["createOffer"]["__typename"] == "InvalidInput"


async def test_gpc_seen_once_opts_the_person_out_on_every_device(client, conn, token) -> None:
    """Issue 15 item 4: GPC belongs to the person, not the request."""
    welcome = await make_offer(client, token, name="Welcome", kind="welcome", params={"max_days": 7})
    await add_user(conn, 330, created_days_ago=2)
    tok = token(sub=330)
    phone, laptop = {"x-device-id": "phone"}, {"x-device-id": "laptop"}
    assert [o["offer"]["id"] for o in await offers(client, tok, headers=laptop)] == [welcome]
    assert await offers(client, tok, headers={**phone, "Sec-GPC": "1"}) == []
    # the laptop never sends the header: still no marketing offers, now and later
    assert await offers(client, tok, headers=laptop) == []
    assert await offers(client, tok) == []
    consent = await gql(client, "{ viewer { consent { purpose effective reason gpcRecorded } } }", token=tok)
    state = {c["purpose"]: c for c in consent["data"]["viewer"]["consent"]}
    assert state["marketing.offers"] == {
        "purpose": "marketing.offers",
        "effective": False,
        "reason": "Global Privacy Control signal",
        "gpcRecorded": True,
    }
    assert not state["personalize.content"]["gpcRecorded"]
    # an explicit opt-in again (from any device) is the person's choice and wins
    set_consent = """mutation { setConsent(purpose: "marketing.offers", granted: true) {
      ... on ConsentReceipt { note } } }"""
    receipt = (await gql(client, set_consent, token=tok, headers=laptop))["data"]["setConsent"]
    assert "conflict with Global Privacy Control resolved by the user" in receipt["note"]
    assert [o["offer"]["id"] for o in await offers(client, tok, headers=laptop)] == [welcome]

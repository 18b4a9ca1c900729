"""The feed over the API on a small world: complements, exclusions, repurchase, sensitive items,
the non-personalized path and consent withdrawal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import gql
from tests.personalization_world import NOT_SENSITIVE, add_user, set_signals, world

FEED = """query($s: Surface!, $l: Int!, $c: String) { viewer { feed(surface: $s, limit: $l, category: $c) {
  item { id name category priceLevel } rank
  why { mode summary purposes dataCategories signalSources consentSnapshotId
        reasons { code text weight sourceItemId sourceItemName } controls { kind purpose } } } } }"""


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


PUBLIC = """query($s: Surface!, $l: Int!, $c: String) { feed(surface: $s, limit: $l, category: $c) {
  item { id } rank why { mode reasons { code } purposes } } }"""


async def feed(client: httpx.AsyncClient, tok: str, surface: str = "HOME", limit: int = 20, **kw: Any) -> Any:
    body = await gql(client, FEED, {"s": surface, "l": limit, "c": kw.get("category")}, token=tok)
    assert "errors" not in body, body
    return body["data"]["viewer"]["feed"]


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["item"]["id"]) for r in rows]


async def test_coat_buyer_gets_complements_naming_the_coat_and_no_coats(client, conn, token) -> None:
    await add_user(conn, 100)
    await set_signals(conn, 100, purchased={1: 3}, affinity={"apparel": 5.0})
    rows = await feed(client, token(sub=100))
    got = ids(rows)
    assert 1 not in got and 2 not in got  # the coat and its substitute/subcategory
    assert got[:2] == [3, 4]  # gloves, scarf first
    for row in rows[:2]:
        related = [r for r in row["why"]["reasons"] if r["code"] == "PURCHASED_RELATED"]
        assert related and related[0]["sourceItemId"] == "1" and related[0]["sourceItemName"] == "Wool coat"
        assert "Wool coat" in related[0]["text"]
        assert row["why"]["mode"] == "PERSONALIZED"
        assert row["why"]["purposes"] == ["personalize.content"]


async def test_phone_buyer_gets_no_phones_and_cart_items_never_appear(client, conn, token) -> None:
    await add_user(conn, 101)
    await set_signals(conn, 101, purchased={10: 2}, affinity={"electronics": 9.0}, cart={13: 1, 41: 1})
    got = ids(await feed(client, token(sub=101)))
    assert not {10, 11} & set(got)
    assert not {13, 41} & set(got)  # in the cart, although complement/popular
    assert got[0] == 12  # the phone case complements the phone


async def test_consumable_reappears_only_when_due(client, conn, token) -> None:
    await add_user(conn, 102)
    await set_signals(conn, 102, purchased={20: 10}, affinity={"grocery": 1.0})
    assert 20 not in ids(await feed(client, token(sub=102)))
    await set_signals(conn, 102, purchased={20: 31}, affinity={"grocery": 1.0})
    rows = await feed(client, token(sub=102))
    row = next(r for r in rows if r["item"]["id"] == "20")
    assert row["why"]["reasons"][0]["code"] == "REPURCHASE_DUE"
    assert row["rank"] == 1


async def test_sensitive_items_never_personalize(client, conn, token) -> None:
    await add_user(conn, 103)
    await set_signals(conn, 103, purchased={31: 5, 30: 5}, affinity={"health": 50.0, "home": 1.0})
    rows = await feed(client, token(sub=103))
    assert set(ids(rows)) <= set(NOT_SENSITIVE)
    for row in rows:  # no complement from the vitamins, no health affinity, health never named
        assert all(r["code"] != "PURCHASED_RELATED" for r in row["why"]["reasons"])
        assert "health" not in str(row["why"]).lower()
    # On their own category page they appear, but only non-personalized (contextual).
    page = await feed(client, token(sub=103), surface="CATEGORY", category="health")
    assert set(ids(page)) == {30, 31}
    assert {r["why"]["mode"] for r in page} == {"CONTEXTUAL"}
    assert all(r["why"]["purposes"] == [] for r in page)


async def test_level_none_equals_anonymous(client, conn, token) -> None:
    await add_user(conn, 104, level="NONE")
    await set_signals(conn, 104, purchased={1: 3}, affinity={"apparel": 5.0})
    for surface, category in (("HOME", None), ("CATEGORY", "apparel"), ("OFFERS", None)):
        mine = await feed(client, token(sub=104), surface=surface, category=category)
        anon = await gql(client, PUBLIC, {"s": surface, "l": 20, "c": category})
        theirs = anon["data"]["feed"]
        assert ids(mine) == ids(theirs) and len(mine) > 0
        assert [r["rank"] for r in mine] == [r["rank"] for r in theirs]
        assert {r["why"]["mode"] for r in mine} <= {"NON_PERSONALIZED", "CONTEXTUAL"}


async def test_cold_start_minor_and_basic_paths(client, conn, token) -> None:
    await add_user(conn, 105)  # no signals at all: cold start
    cold = await feed(client, token(sub=105))
    assert {r["why"]["mode"] for r in cold} == {"NON_PERSONALIZED"}
    assert cold[0]["why"]["reasons"][0]["code"] == "EDITORIAL"
    await add_user(conn, 106, is_minor=True)
    await set_signals(conn, 106, purchased={1: 3})
    offers_surface = await feed(client, token(sub=106), surface="OFFERS")
    assert {r["why"]["mode"] for r in offers_surface} == {"NON_PERSONALIZED"}
    assert {r["why"]["mode"] for r in await feed(client, token(sub=106))} == {"PERSONALIZED"}
    await add_user(conn, 107, level="BASIC", interests="sports, health")
    await set_signals(conn, 107, purchased={1: 3})
    basic = await feed(client, token(sub=107))
    assert basic[0]["item"]["id"] == "21"
    assert basic[0]["why"]["reasons"][0]["code"] == "STATED_INTEREST"
    assert basic[0]["why"]["signalSources"] == ["STATED_BY_YOU"]
    assert all("PURCHASED_RELATED" not in str(r["why"]) for r in basic)  # no behavioural data
    assert set(ids(basic)) <= set(NOT_SENSITIVE)  # a stated sensitive interest is ignored


async def test_withdrawn_content_consent_reads_no_signals(client, conn, token) -> None:
    await add_user(conn, 108)
    await set_signals(conn, 108, purchased={1: 3}, affinity={"apparel": 5.0})
    await conn.execute(
        "UPDATE consents SET granted = false WHERE user_id = 108 AND purpose = 'personalize.content'"
    )
    await conn.execute("UPDATE users SET consent_version = consent_version + 1 WHERE user_id = 108")
    response = await client.post(
        "/graphql",
        json={"query": FEED, "variables": {"s": "HOME", "l": 10}},
        headers={"Authorization": f"Bearer {token(sub=108)}"},
    )
    rows = response.json()["data"]["viewer"]["feed"]
    request_id = response.headers["x-request-id"]
    tables = await conn.fetch("SELECT table_name, purpose FROM audit_log WHERE request_id = $1", request_id)
    assert tables and all(t["table_name"] != "user_signals" for t in tables)
    assert all("personalize.content" not in r["why"]["purposes"] for r in rows)
    assert {r["why"]["mode"] for r in rows} == {"NON_PERSONALIZED"}


async def test_limit_is_validated_and_decisions_are_logged(client, conn, token) -> None:
    await add_user(conn, 109)
    await set_signals(conn, 109, purchased={1: 3})
    body = await gql(client, FEED, {"s": "HOME", "l": 0}, token=token(sub=109))
    assert "limit" in body["errors"][0]["message"]
    body = await gql(client, FEED, {"s": "HOME", "l": 51}, token=token(sub=109))
    assert "limit" in body["errors"][0]["message"]
    rows = await feed(client, token(sub=109), limit=3)
    assert len(rows) == 3
    logged = await conn.fetch(
        "SELECT subject_id, rank, mode FROM decisions WHERE user_id = 109 ORDER BY rank"
    )
    assert [(r["subject_id"], r["rank"]) for r in logged] == [(r["item"]["id"], r["rank"]) for r in rows]

"""Inferences (list, hide, export description), the explanation log and reminders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from privacy.guard import Guard, load_snapshot
from privacy.principal import Principal, Role
from resolvers.account.inferences import describe_inferences
from sql import create_pool
from tests.conftest import gql
from tests.personalization_world import add_user, set_signals, world

INFERENCES = """{ viewer { inferences { key kind value hidden
  why { mode summary purposes rule { kind id version } } } } }"""
HIDE = """mutation($k: String!) { hideInference(key: $k) {
  __typename ... on HiddenInference { key } ... on InvalidInput { errors { field message } } } }"""
EXPLANATIONS = """query($l: Int!) { viewer { explanations(limit: $l) {
  surface subjectKind subjectId mode summary purposes reasons { code sourceItemId } consentSnapshotId } } }"""
FEED = "{ viewer { feed(surface: HOME, limit: 3) { item { id } why { decisionId } } } }"
REMINDERS = (
    "{ viewer { reminders { channel item { id name } why { purposes reasons { code sourceItemId } } } } }"
)
OFFERS = "{ viewer { offers(surface: OFFERS) { offer { id } } } }"


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


async def data(client: Any, query: str, tok: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql(client, query, variables, token=tok)
    assert "errors" not in body, body
    return body["data"]


async def test_inferences_list_hide_and_stop_targeting(client, conn, token, db_dsn) -> None:
    m = token(Role.MARKETER, "m1")
    seg = await gql(
        client,
        'mutation { createSegment(name: "apparel fans",'
        ' rule: {attr: "purchased_category", op: "eq", value: "apparel"}) { ... on Segment { id } } }',
        token=m,
    )
    sid = seg["data"]["createSegment"]["id"]
    await gql(
        client,
        'mutation($s: ID!) { createOffer(input: {name: "Fans", kind: "segment", segmentId: $s})'
        " { __typename } }",
        {"s": sid},
        token=m,
    )
    await add_user(conn, 400)
    await set_signals(
        conn, 400, sessions=40, purchased={1: 3}, affinity={"apparel": 1.0}, price_levels=(0, 0, 3, 1)
    )
    tok = token(sub=400)
    found = {i["key"]: i for i in (await data(client, INFERENCES, tok))["viewer"]["inferences"]}
    assert set(found) == {"tag:experience", "tag:price_tier", f"segment:{sid}"}
    seg_inf = found[f"segment:{sid}"]
    assert seg_inf["value"] == "apparel fans" and seg_inf["hidden"] is False
    assert seg_inf["why"]["rule"] == {"kind": "segment", "id": sid, "version": 1}
    assert (
        found["tag:price_tier"]["value"] == "LUXURY"
        and found["tag:price_tier"]["why"]["mode"] == "PERSONALIZED"
    )
    assert len((await data(client, OFFERS, tok))["viewer"]["offers"]) == 1
    before = await conn.fetchval("SELECT consent_version FROM users WHERE user_id = 400")
    hidden = await gql(client, HIDE, {"k": f"segment:{sid}"}, token=tok)
    assert hidden["data"]["hideInference"] == {"__typename": "HiddenInference", "key": f"segment:{sid}"}
    assert await conn.fetchval("SELECT consent_version FROM users WHERE user_id = 400") == before + 1
    assert (await data(client, OFFERS, tok))["viewer"]["offers"] == []  # a hidden segment is not used
    found = {i["key"]: i for i in (await data(client, INFERENCES, tok))["viewer"]["inferences"]}
    assert found[f"segment:{sid}"]["hidden"] is True and found[f"segment:{sid}"]["why"] is None
    sim = await gql(
        client,
        "query($s: ID!) { segmentPreview(segmentId: $s) { ... on SegmentSimulation { passed } } }",
        {"s": sid},
        token=tok,
    )
    assert sim["data"]["segmentPreview"]["passed"] is False  # the same evaluator skips it
    await gql(client, HIDE, {"k": "tag:price_tier"}, token=tok)
    tier = {i["key"]: i for i in (await data(client, INFERENCES, tok))["viewer"]["inferences"]}[
        "tag:price_tier"
    ]
    assert tier["hidden"] is True and tier["value"] == "MID" and tier["why"]["mode"] == "NON_PERSONALIZED"
    bad = await gql(client, HIDE, {"k": "tag:religion"}, token=tok)
    assert bad["data"]["hideInference"]["errors"][0]["field"] == "key"
    # The export form, with the logic in plain words.
    pool = await create_pool(db_dsn)
    try:
        snapshot = await load_snapshot(pool, 400, False)
        guard = Guard(pool, Principal(Role.USER, "400"), "export-test", snapshot)
        described = {d["key"]: d for d in await describe_inferences(guard, 400)}
    finally:
        await pool.close()
    assert described[f"segment:{sid}"]["hidden"] is True
    assert "hid" in described[f"segment:{sid}"]["logic"]
    assert described["tag:price_tier"]["hidden"] is True and described["tag:price_tier"]["value"] == "MID"
    assert (
        "sessions" in described["tag:experience"]["logic"]
        and "tag_rule" in described["tag:experience"]["logic"]
    )


async def test_explanations_are_own_and_match_the_feed(client, conn, token) -> None:
    await add_user(conn, 410)
    await set_signals(conn, 410, purchased={1: 3}, affinity={"apparel": 2.0})
    await add_user(conn, 411)
    shown = (await data(client, FEED, token(sub=410)))["viewer"]["feed"]
    logged = (await data(client, EXPLANATIONS, token(sub=410), {"l": 10}))["viewer"]["explanations"]
    assert sorted(e["subjectId"] for e in logged) == sorted(f["item"]["id"] for f in shown)
    coat = [e for e in logged if any(r["code"] == "PURCHASED_RELATED" for r in e["reasons"])]
    assert coat and coat[0]["reasons"][0]["sourceItemId"] == "1" and coat[0]["surface"] == "home"
    assert all(e["subjectKind"] == "item" and e["consentSnapshotId"].startswith("cs-410-") for e in logged)
    assert (await data(client, EXPLANATIONS, token(sub=411), {"l": 10}))["viewer"]["explanations"] == []
    bad = await gql(client, EXPLANATIONS, {"l": 0}, token=token(sub=410))
    assert "limit" in bad["errors"][0]["message"]


async def test_reminders_only_on_preferred_subscribed_consented_channel(client, conn, token) -> None:
    await add_user(conn, 420, preferred_channel="email", subscribed=("email",))
    await set_signals(
        conn, 420, purchased={20: 40, 1: 40, 31: 90}
    )  # coffee due; coat durable; vitamins sensitive
    got = (await data(client, REMINDERS, token(sub=420)))["viewer"]["reminders"]
    assert [(r["channel"], r["item"]["id"]) for r in got] == [("email", "20")]
    assert got[0]["why"]["purposes"] == ["marketing.communications.email"]
    assert got[0]["why"]["reasons"][0] == {"code": "REPURCHASE_DUE", "sourceItemId": "20"}
    await add_user(conn, 421, preferred_channel="sms", subscribed=("email",))  # preferred not subscribed
    await set_signals(conn, 421, purchased={20: 40})
    assert (await data(client, REMINDERS, token(sub=421)))["viewer"]["reminders"] == []
    await add_user(
        conn, 422, preferred_channel="push", subscribed=("push",), granted=("personalize.content",)
    )
    await set_signals(conn, 422, purchased={20: 40})
    assert (await data(client, REMINDERS, token(sub=422)))["viewer"]["reminders"] == []
    await add_user(conn, 423, preferred_channel="email", subscribed=("email",))
    await set_signals(conn, 423, purchased={20: 5})  # not due yet
    assert (await data(client, REMINDERS, token(sub=423)))["viewer"]["reminders"] == []

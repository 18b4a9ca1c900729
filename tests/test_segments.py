"""Segments: validation refuses sensitive, malformed and oversized rules (nothing stored),
edits create versions, and simulateSegment agrees with what offer targeting served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from privacy.principal import Role
from tests.conftest import gql
from tests.personalization_world import add_user, set_signals, world

CREATE = """mutation($n: String!, $r: JSON!) { createSegment(name: $n, rule: $r) {
  __typename ... on Segment { id version rule }
  ... on InvalidInput { message errors { field message } } } }"""
UPDATE = """mutation($id: ID!, $r: JSON!) { updateSegment(segmentId: $id, rule: $r) {
  __typename ... on Segment { id version } ... on InvalidInput { errors { field message } } } }"""
SIMULATE = """query($s: ID!, $p: JSON!) { simulateSegment(segmentId: $s, profile: $p) {
  __typename ... on SegmentSimulation { passed version conditions { path attribute operator passed } }
  ... on InvalidInput { errors { field message } } } }"""
PREVIEW = """query($s: ID!) { segmentPreview(segmentId: $s) {
  __typename ... on SegmentSimulation { passed version conditions { path attribute operator passed } } } }"""
CREATE_OFFER = """mutation($i: OfferInput!) { createOffer(input: $i) {
  __typename ... on Offer { id } ... on InvalidInput { errors { field message } } } }"""
OFFERS = """{ viewer { offers(surface: OFFERS) { offer { id name }
  why { reasons { code } rule { id version } } } } }"""
BIG_SPENDERS = {
    "and": [
        {"attr": "spend_90d_cents", "op": "gte", "value": 10000},
        {"attr": "purchased_category", "op": "eq", "value": "apparel"},
        {"not": {"attr": "country", "op": "in", "value": ["FR", "IT"]}},
    ]
}


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


async def create(client: Any, tok: str, rule: Any, name: str = "seg") -> dict[str, Any]:
    body = await gql(client, CREATE, {"n": name, "r": rule}, token=tok)
    assert "errors" not in body, body
    return body["data"]["createSegment"]


def nest(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"attr": "sessions", "op": "gt", "value": 1}
    for _ in range(depth - 1):
        node = {"not": node}
    return node


BAD_RULES: list[tuple[Any, str, str]] = [
    (
        {
            "and": [
                {"attr": "sessions", "op": "gt", "value": 1},
                {"attr": "precise_location", "op": "eq", "value": "x"},
            ]
        },
        "rule.and[1].attr",
        "sensitive",
    ),
    ({"attr": "health_condition", "op": "eq", "value": "asthma"}, "rule.attr", "sensitive"),
    ({"attr": "purchased_category", "op": "eq", "value": "health"}, "rule.value", "sensitive"),
    (
        {"attr": "purchased_category", "op": "in", "value": ["apparel", "Pregnancy tests"]},
        "rule.value",
        "sensitive",
    ),
    ({"or": [{"attr": "country", "op": "eq", "value": "religion"}]}, "rule.or[0].value", "sensitive"),
    ({"attr": "favourite_colour", "op": "eq", "value": "red"}, "rule.attr", "unknown attribute"),
    ({"attr": "sessions", "op": "gt", "value": "ten"}, "rule.value", "whole numbers"),
    ({"attr": "sessions", "op": "like", "value": 1}, "rule.op", "not allowed"),
    ({"attr": "experience", "op": "eq", "value": "GURU"}, "rule.value", "not one of"),
    ({"and": []}, "rule.and", "non-empty"),
    ({"xor": [1]}, "rule", "condition has exactly"),
    ([1, 2], "rule", "must be an object"),
    (nest(6), "rule.not.not.not.not.not", "deeper"),
    ({"or": [{"attr": "sessions", "op": "gt", "value": i} for i in range(50)]}, "rule", "too many nodes"),
]


async def test_bad_rules_are_refused_and_nothing_is_stored(client, conn, token) -> None:
    for rule, field, words in BAD_RULES:  # one database for all cases keeps the suite fast
        result = await create(client, token(Role.MARKETER, "m1"), rule)
        assert result["__typename"] == "InvalidInput"
        assert any(e["field"] == field and words in e["message"] for e in result["errors"]), result
    assert await conn.fetchval("SELECT count(*) FROM segments") == 0
    assert await conn.fetchval("SELECT count(*) FROM segment_versions") == 0


async def test_only_marketers_manage_segments(client, conn, token) -> None:
    body = await gql(client, CREATE, {"n": "x", "r": BIG_SPENDERS}, token=token(Role.USER, "1"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(client, SIMULATE, {"s": "1", "p": {}}, token=token(Role.ANALYST, "a"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_edits_make_versions(client, conn, token) -> None:
    tok = token(Role.MARKETER, "m1")
    seg = await create(client, tok, BIG_SPENDERS)
    assert seg["version"] == 1 and seg["rule"] == BIG_SPENDERS
    body = await gql(
        client, UPDATE, {"id": seg["id"], "r": {"attr": "sessions", "op": "gte", "value": 3}}, token=tok
    )
    assert body["data"]["updateSegment"] == {"__typename": "Segment", "id": seg["id"], "version": 2}
    bad = await gql(
        client, UPDATE, {"id": seg["id"], "r": {"attr": "is_minor", "op": "eq", "value": "x"}}, token=tok
    )
    assert bad["data"]["updateSegment"]["__typename"] == "InvalidInput"
    rows = await conn.fetch("SELECT version FROM segment_versions ORDER BY version")
    assert [r["version"] for r in rows] == [1, 2]
    assert await conn.fetchval("SELECT current_version FROM segments") == 2


async def test_previews_and_synthetic_profiles_match_offer_targeting(client, conn, token) -> None:
    tok = token(Role.MARKETER, "m1")
    seg = await create(client, tok, BIG_SPENDERS, name="big spenders")
    offer = await gql(
        client,
        CREATE_OFFER,
        {"i": {"name": "VIP", "kind": "segment", "segmentId": seg["id"], "discountPct": 10}},
        token=tok,
    )
    offer_id = offer["data"]["createOffer"]["id"]
    day = "2099-01-01"  # in the future: always inside the 90-day window
    await add_user(conn, 200)
    await set_signals(conn, 200, purchased={1: 5}, spend_by_day={day: 24000})
    await add_user(conn, 201)
    await set_signals(conn, 201, purchased={1: 5}, spend_by_day={day: 500})
    await add_user(conn, 202, granted=("personalize.content",))  # no marketing consent
    await set_signals(conn, 202, purchased={1: 5}, spend_by_day={day: 24000})
    expected = {200: True, 201: False, 202: False}
    for user_id, should in expected.items():
        # The user's own preview, from their own data under their own consent.
        sim = (await gql(client, PREVIEW, {"s": seg["id"]}, token=token(sub=user_id)))["data"][
            "segmentPreview"
        ]
        served = (await gql(client, OFFERS, token=token(sub=user_id)))["data"]["viewer"]["offers"]
        got = any(o["offer"]["id"] == offer_id for o in served)
        assert sim["passed"] is should and got is should, (user_id, sim, served)
        assert [c["path"] for c in sim["conditions"]] == ["rule.and[0]", "rule.and[1]", "rule.and[2].not"]
        assert "24000" not in str(sim) and "DE" not in str(sim)  # no raw user values
    own = (await gql(client, PREVIEW, {"s": seg["id"]}, token=token(sub=201)))["data"]["segmentPreview"]
    assert [c["passed"] for c in own["conditions"]] == [False, True, False]
    # The marketer's view of the same people: synthetic profiles shaped like them.
    profiles = {
        200: ({"spend_90d_cents": 24000, "purchased_category": ["apparel"], "country": "DE"}, True),
        201: ({"spend_90d_cents": 500, "purchased_category": ["apparel"], "country": "DE"}, False),
        # no marketing consent: nothing about them is available to targeting
        202: ({}, False),
    }
    for user_id, (profile, should) in profiles.items():
        sim = (await gql(client, SIMULATE, {"s": seg["id"], "p": profile}, token=tok))["data"]
        assert sim["simulateSegment"]["passed"] is should, (user_id, sim)
    served = (await gql(client, OFFERS, token=token(sub=200)))["data"]["viewer"]["offers"][0]
    assert served["why"]["reasons"][0]["code"] == "SEGMENT_MATCH"
    assert served["why"]["rule"] == {"id": seg["id"], "version": 1}
    # A preview reads the user's own data, audited with them as reader and subject; a marketer
    # reads nobody's (subject 0: an entry about no one, migration 0501).
    audit = await conn.fetch("SELECT principal_role, principal_id, subject_user_id FROM audit_log")
    assert not [r for r in audit if r["principal_role"] == "marketer" and r["subject_user_id"] != 0]
    assert {(r["principal_id"], r["subject_user_id"]) for r in audit if r["principal_role"] == "user"} >= {
        ("200", 200)
    }

"""Marketers never see individuals (issue 10, finding 2), over HTTP on a real PostgreSQL.

- No marketer path answers about a real person: the bisection attack that recovered a user's
  exact 90-day spend through simulateSegment(userId, ...) gets nothing; simulation runs only on
  synthetic profiles, validated field by field like real attribute values.
- A signed-in user may preview their own match (their data, their request), and nobody else's.
- refreshSegmentMembership returns no counts (a count moving by one shows a person leaving);
  segment sizes reach a marketer only as DP counts charged to their own registered budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from privacy.principal import Role
from tests.conftest import gql
from tests.dp_data import register
from tests.personalization_world import add_user, set_signals, world
from tests.privacy_helpers import sql

CREATE = """mutation($n: String!, $r: JSON!) { createSegment(name: $n, rule: $r) {
  __typename ... on Segment { id } ... on InvalidInput { errors { field message } } } }"""
UPDATE = """mutation($id: ID!, $r: JSON!) { updateSegment(segmentId: $id, rule: $r) { __typename } }"""
OLD_SIMULATE = """query($u: ID!, $s: ID!) { simulateSegment(userId: $u, segmentId: $s) {
  ... on SegmentSimulation { passed } } }"""
SIMULATE = """query($s: ID!, $p: JSON!) { simulateSegment(segmentId: $s, profile: $p) { __typename
  ... on SegmentSimulation { passed conditions { attribute passed } }
  ... on InvalidInput { message errors { field message } } } }"""
PREVIEW = """query($s: ID!) { segmentPreview(segmentId: $s) { __typename
  ... on SegmentSimulation { passed conditions { attribute passed } } } }"""
REFRESH = "mutation { refreshSegmentMembership { segments finishedAt } }"
SIZES = """query($e: Float!) { segmentSizes(epsilon: $e) { __typename
  ... on AudienceBreakdown { dimensions groups { keys count { value mechanism sensitivity epsilon } }
                             epsilonCharged }
  ... on BudgetExhausted { scope epsilonRemaining } } }"""
DAY = "2099-01-01"  # in the future: always inside the spend window
SPEND = 23_456  # the victim's exact 90-day spend, in cents


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        await add_user(c, 200)
        await set_signals(c, 200, sessions=12, purchased={1: 5}, spend_by_day={DAY: SPEND})
        yield c


async def _segment(client: Any, tok: str, rule: Any, name: str) -> str:
    body = await gql(client, CREATE, {"n": name, "r": rule}, token=tok)
    assert body["data"]["createSegment"]["__typename"] == "Segment", body
    return str(body["data"]["createSegment"]["id"])


async def test_a_marketer_cannot_bisect_a_persons_spend(client: Any, conn: Any, token: Any) -> None:
    """The audit's attack: one segment 'spend >= X', moved by bisection, asked about user 200."""
    tok = token(Role.MARKETER, "m1")
    seg = await _segment(client, tok, {"attr": "spend_90d_cents", "op": "gte", "value": 0}, "probe")
    low, high, answered = 0, 1_000_000, 0
    while low < high:
        mid = (low + high + 1) // 2
        await gql(
            client,
            UPDATE,
            {"id": seg, "r": {"attr": "spend_90d_cents", "op": "gte", "value": mid}},
            token=tok,
        )
        body = await gql(client, OLD_SIMULATE, {"u": "200", "s": seg}, token=tok)
        result = (body.get("data") or {}).get("simulateSegment")
        if result is None:  # refused: the attack learns nothing, stop probing
            assert body["errors"], body
            break
        answered += 1
        low, high = (mid, high) if result["passed"] else (low, mid - 1)
    assert answered == 0, f"a marketer learned about user 200 ({answered} answers, spend >= {low})"


BAD_PROFILES: list[tuple[Any, str, str]] = [
    ([1, 2], "profile", "must be an object"),
    ({"favourite_colour": "red"}, "profile.favourite_colour", "unknown attribute"),
    ({"religion": "x"}, "profile.religion", "sensitive"),
    ({"sessions": -1}, "profile.sessions", "whole number from 0"),
    ({"sessions": 2.5}, "profile.sessions", "whole number from 0"),
    ({"sessions": True}, "profile.sessions", "whole number from 0"),
    ({"spend_90d_cents": 10**13}, "profile.spend_90d_cents", "whole number from 0"),
    ({"experience": "GURU"}, "profile.experience", "must be one of"),
    ({"platform": "symbian"}, "profile.platform", "must be one of"),
    ({"country": "de"}, "profile.country", "two-letter country code"),
    ({"country": "DEU"}, "profile.country", "two-letter country code"),
    ({"purchased_category": "apparel"}, "profile.purchased_category", "list of category names"),
    ({"purchased_category": ["health"]}, "profile.purchased_category", "can be targeted on"),
    ({"purchased_category": ["apparel", "apparel"]}, "profile.purchased_category", "must not repeat"),
    ({"purchased_category": ["unicorns"]}, "profile.purchased_category", "can be targeted on"),
]


async def test_synthetic_profiles_are_validated_like_real_attribute_values(
    client: Any, conn: Any, token: Any
) -> None:
    tok = token(Role.MARKETER, "m1")
    rule = {"and": [{"attr": "spend_90d_cents", "op": "gte", "value": 10000},
                    {"attr": "purchased_category", "op": "eq", "value": "apparel"}]}  # fmt: skip
    seg = await _segment(client, tok, rule, "big apparel")
    for profile, field, words in BAD_PROFILES:
        result = (await gql(client, SIMULATE, {"s": seg, "p": profile}, token=tok))["data"]["simulateSegment"]
        assert result["__typename"] == "InvalidInput", (profile, result)
        assert result["message"] == "the profile was not accepted"
        assert any(e["field"] == field and words in e["message"] for e in result["errors"]), (profile, result)
    # Several problems at once are all reported, each with its field.
    both = {"sessions": -3, "country": "x"}
    result = (await gql(client, SIMULATE, {"s": seg, "p": both}, token=tok))["data"]["simulateSegment"]
    assert {e["field"] for e in result["errors"]} == {"profile.sessions", "profile.country"}
    # A valid profile runs the offers' evaluator; a left-out attribute fails its conditions.
    fits = {"spend_90d_cents": 24000, "purchased_category": ["apparel", "electronics"], "country": "DE"}
    result = (await gql(client, SIMULATE, {"s": seg, "p": fits}, token=tok))["data"]["simulateSegment"]
    assert result["passed"] is True
    result = (await gql(client, SIMULATE, {"s": seg, "p": {"spend_90d_cents": 24000}}, token=tok))["data"]
    assert result["simulateSegment"]["passed"] is False
    assert [c["passed"] for c in result["simulateSegment"]["conditions"]] == [True, False]
    missing = (await gql(client, SIMULATE, {"s": "999999", "p": fits}, token=tok))["data"]["simulateSegment"]
    assert missing["__typename"] == "SegmentNotFound"


async def test_a_user_previews_their_own_match_and_only_theirs(client: Any, conn: Any, token: Any) -> None:
    marketer = token(Role.MARKETER, "m1")
    seg = await _segment(client, marketer, {"attr": "spend_90d_cents", "op": "gte", "value": 20000}, "big")
    await add_user(conn, 201)
    await set_signals(conn, 201, spend_by_day={DAY: 100})
    mine = (await gql(client, PREVIEW, {"s": seg}, token=token(sub=200)))["data"]["segmentPreview"]
    theirs = (await gql(client, PREVIEW, {"s": seg}, token=token(sub=201)))["data"]["segmentPreview"]
    assert (mine["passed"], theirs["passed"]) == (True, False)  # each sees their own outcome
    assert str(SPEND) not in str(mine)  # pass/fail only, never the value
    # There is no argument naming someone else, and other roles cannot preview at all.
    named = 'query($s: ID!) { segmentPreview(segmentId: $s, userId: "201") { __typename } }'
    other = await gql(client, named, {"s": seg}, token=token(sub=200))
    assert other.get("data") is None and "userId" in other["errors"][0]["message"]
    for role in (Role.MARKETER, Role.ADMIN, Role.ANALYST, Role.APP):
        body = await gql(client, PREVIEW, {"s": seg}, token=token(role, "x"))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    # The preview read user 200's data for user 200, audited with them as reader and subject.
    reads = await conn.fetch(
        "SELECT DISTINCT principal_id, subject_user_id FROM audit_log WHERE principal_role = 'user'"
    )
    assert {(r["principal_id"], r["subject_user_id"]) for r in reads} == {("200", 200), ("201", 201)}


async def test_refresh_returns_no_counts_and_sizes_are_dp_for_marketers(
    client: Any, conn: Any, token: Any, db_dsn: str
) -> None:
    tok = token(Role.MARKETER, "mark")
    seg = await _segment(client, tok, {"attr": "sessions", "op": "gte", "value": 1}, "active")
    for counted in ("users", "skipped", "memberships", "changed"):
        body = await gql(client, f"mutation {{ refreshSegmentMembership {{ {counted} }} }}", token=tok)
        assert body.get("data") is None and counted in body["errors"][0]["message"], body
    first = (await gql(client, REFRESH, token=tok))["data"]["refreshSegmentMembership"]
    # user 200 leaves the segment (withdraws marketing consent): the refresh says the same thing
    await conn.execute(
        "UPDATE consents SET granted = false WHERE user_id = 200 AND purpose = 'marketing.offers'"
    )
    second = (await gql(client, REFRESH, token=tok))["data"]["refreshSegmentMembership"]
    assert first["segments"] == second["segments"] == 1
    assert set(first) == {"segments", "finishedAt"}
    # Sizes: only for a marketer an admin registered, noisy, charged to their own budget.
    refused = await gql(client, SIZES, {"e": 0.5}, token=tok)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await register(db_dsn, "mark", "marketer", epsilon_cap="0.6")
    sizes = (await gql(client, SIZES, {"e": 0.5}, token=tok))["data"]["segmentSizes"]
    assert sizes["__typename"] == "AudienceBreakdown" and sizes["dimensions"] == ["SEGMENT"]
    assert [g["keys"] for g in sizes["groups"]] == [[seg]]
    (count,) = [g["count"] for g in sizes["groups"]]
    assert count["mechanism"] == "geometric" and count["epsilon"] == "0.5" and count["sensitivity"] == 5
    assert sizes["epsilonCharged"] == "0.5"
    budget = await sql(db_dsn, "SELECT epsilon_spent FROM privacy_budgets WHERE analyst_id = 'mark'")
    assert budget[0]["epsilon_spent"] == Decimal("0.5")
    dataset = await sql(db_dsn, "SELECT epsilon_spent FROM dataset_budgets WHERE dataset = 'audience'")
    assert dataset[0]["epsilon_spent"] == Decimal("0.5")
    over = (await gql(client, SIZES, {"e": 0.2}, token=tok))["data"]["segmentSizes"]
    assert over == {"__typename": "BudgetExhausted", "scope": "SPENDER", "epsilonRemaining": "0.1"}
    # An analyst token with the marketer's id is not the marketer.
    body = await gql(client, "{ privacyBudget { spent } }", token=token(Role.ANALYST, "mark"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_field_the_caller_may_not_run_is_never_charged(
    client: Any, conn: Any, token: Any, db_dsn: str
) -> None:
    await register(db_dsn, "ana")
    doc = """{ a: distinctUsers(epsilon: 0.1) { __typename }
               s: segmentSizes(epsilon: 0.9) { __typename } }"""
    body = await gql(client, doc, token=token(Role.ANALYST, "ana"))
    assert body["errors"][0]["path"] == ["s"] and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    charged = await sql(db_dsn, "SELECT epsilon FROM privacy_events WHERE kind = 'charge'")
    # The analyst's own field may or may not have run before the refusal nulled the operation;
    # the marketer field's 0.9 was never part of a charge.
    assert [r["epsilon"] for r in charged] in ([], [Decimal("0.1")])

"""Layout rules per tag combination as data, over HTTP: validated with field errors (nothing
stored), versioned, applied from the next request to the most specific matching combination with
a why naming it, only on tags decided from the person's activity, and the layout ETag follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from privacy.principal import Role
from tests.conftest import gql
from tests.personalization_world import add_user, set_signals, world
from tests.test_layout import layout_get

SET = """mutation($r: [LayoutRuleInput!]!) { setLayoutRules(rules: $r) {
  __typename ... on LayoutRules { version layoutVersion rules { experience priceTier sections offerCount } }
  ... on InvalidInput { errors { field message } } } }"""
LAYOUT = """{ layoutConfig(platform: WEB, appVersion: "1.0") { ... on LayoutConfig { configVersion
  tags { experience priceTier } sections { key }
  offers { count why { summary matchedCriteria rule { kind id version } } } } } }"""
NEWBIE_LUXURY, REGULAR_LUXURY, BASIC = 501, 502, 503


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        await add_user(c, NEWBIE_LUXURY, created_days_ago=3)
        await set_signals(c, NEWBIE_LUXURY, sessions=2, purchased={1: 2}, price_levels=(0, 0, 0, 4))
        await add_user(c, REGULAR_LUXURY, created_days_ago=100)
        await set_signals(c, REGULAR_LUXURY, sessions=12, purchased={1: 2}, price_levels=(0, 0, 0, 4))
        await add_user(c, BASIC, level="BASIC", created_days_ago=3)
        yield c


async def _layout(client: Any, token: Any, uid: int) -> dict[str, Any]:
    body = await gql(client, LAYOUT, token=token(Role.USER, uid))
    assert "errors" not in body, body
    layout: dict[str, Any] = body["data"]["layoutConfig"]
    return layout


RULES = [
    {
        "experience": "NEWBIE",
        "priceTier": "LUXURY",
        "sections": ["welcome", "offers", "search"],
        "offerCount": 4,
    },
    {"priceTier": "LUXURY", "offerCount": 1},
    {"experience": "NEWBIE", "sections": ["welcome", "popular"]},
]


async def test_bad_rule_sets_are_refused_field_by_field(conn, client, token) -> None:
    mk = token(Role.MARKETER, "mark")
    bad = [
        {"sections": ["welcome"]},
        {"experience": "NEWBIE", "sections": ["nope"], "offerCount": 11},
        {"experience": "POWER"},
        {"priceTier": "BUDGET", "sections": ["search", "search"]},
        {"priceTier": "BUDGET", "offerCount": 2},
    ]
    result = (await gql(client, SET, {"r": bad}, token=mk))["data"]["setLayoutRules"]
    assert result["__typename"] == "InvalidInput"
    assert [e["field"] for e in result["errors"]] == [
        "rules[0]",
        "rules[1].sections[0]",
        "rules[1].offerCount",
        "rules[2]",
        "rules[3].sections",
        "rules[4]",
    ]
    assert await conn.fetchval("SELECT count(*) FROM layout_rule_sets") == 0
    denied = await gql(client, SET, {"r": RULES}, token=token(Role.USER, NEWBIE_LUXURY))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_most_specific_rule_applies_from_the_next_request(conn, client, token) -> None:
    before = await _layout(client, token, NEWBIE_LUXURY)
    assert before["tags"] == {"experience": "NEWBIE", "priceTier": "LUXURY"}
    assert before["offers"]["count"] == 1  # the deployed settings: LUXURY shows 1
    etag = (await layout_get(client, token(Role.USER, NEWBIE_LUXURY))).headers["etag"]

    saved = (await gql(client, SET, {"r": RULES}, token=token(Role.MARKETER, "mark")))["data"][
        "setLayoutRules"
    ]
    assert saved["version"] == 1 and saved["layoutVersion"] > before["configVersion"]

    layout = await _layout(client, token, NEWBIE_LUXURY)
    assert [s["key"] for s in layout["sections"]] == ["welcome", "offers", "search"]
    assert layout["offers"]["count"] == 4
    why = layout["offers"]["why"]
    assert why["summary"] == "The layout for new shoppers who usually buy luxury"
    assert why["matchedCriteria"] == ["experience NEWBIE", "price tier LUXURY"]
    # One whole sentence per tag combination, translated as a sentence (never from pieces).
    fa = (
        await gql(client, LAYOUT, token=token(Role.USER, NEWBIE_LUXURY), headers={"Accept-Language": "fa"})
    )["data"]["layoutConfig"]["offers"]["why"]
    assert fa["summary"] == "چیدمان ویژه مشتریان تازه‌واردی که معمولاً کالای لوکس می‌خرند"
    assert fa["matchedCriteria"] == ["برچسب تجربه: تازه‌وارد", "برچسب رده قیمتی: لوکس"]
    assert why["rule"] == {"kind": "layout_rule", "id": "NEWBIE+LUXURY", "version": saved["layoutVersion"]}
    assert layout["configVersion"] == saved["layoutVersion"]
    # A regular luxury shopper: only the price-tier rule fits.
    regular = await _layout(client, token, REGULAR_LUXURY)
    assert regular["tags"]["experience"] == "REGULAR" and regular["offers"]["count"] == 1
    assert regular["offers"]["why"]["rule"]["id"] == "*+LUXURY"
    assert regular["sections"][0]["key"] == "home_feed"  # no sections rule: settings
    # Tags not decided from activity (level BASIC) never match a rule.
    basic = await _layout(client, token, BASIC)
    assert basic["offers"]["why"]["rule"]["id"] == "offers"
    # The ETag follows the rule version.
    after = await layout_get(client, token(Role.USER, NEWBIE_LUXURY), etag)
    assert after.status_code == 200 and after.headers["etag"] != etag

    # A new version replaces the set; the old one stays on record.
    again = [{"experience": "NEWBIE", "priceTier": "LUXURY", "offerCount": 2}]
    saved2 = (await gql(client, SET, {"r": again}, token=token(Role.MARKETER, "mark")))["data"][
        "setLayoutRules"
    ]
    assert saved2["version"] == 2
    layout = await _layout(client, token, NEWBIE_LUXURY)
    assert layout["offers"]["count"] == 2
    assert layout["sections"][0]["key"] == "welcome"  # settings' newbie sections
    listed = await gql(
        client, "{ layoutRules { version rules { offerCount } } }", token=token(Role.MARKETER, "m")
    )
    assert listed["data"]["layoutRules"] == {"version": 2, "rules": [{"offerCount": 2}]}
    assert await conn.fetchval("SELECT count(*) FROM layout_rule_sets") == 2

"""The person's own customization over HTTP on a real PostgreSQL: a NEWBIE who chose the full
layout gets it on the next request with a STATED_BY_YOU why and a new ETag; pinned and hidden
sections hold; the same at level NONE; an anonymous app's client-held settings are validated and
applied; invalid input stores nothing; versions refuse stale writes; export and erasure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from resolvers.explain.record import ControlKind, ReasonCode, SignalSource
from resolvers.model.customization import Customization, LayoutChoice
from tests import world
from tests.conftest import gql
from tests.test_events import track
from tests.test_layout import URL, layout_get, layout_of

NEWBIE, OTHER = 30, 31
SET = """mutation($s: CustomizationInput!, $v: Int) { setCustomization(settings: $s, expectedVersion: $v) {
  __typename
  ... on Customization { version theme accent accentHex fontScale density layout pinned hidden }
  ... on InvalidInput { message errors { field message } }
} }"""
RESET = """mutation { resetCustomization { __typename ... on Customization { version layout pinned } } }"""


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, NEWBIE, member_days=2)
    await world.add_user(conn, OTHER, member_days=2)
    try:
        yield conn
    finally:
        await conn.close()


async def save(
    client: httpx.AsyncClient, tok: str, settings: dict[str, Any], version: int | None = None
) -> Any:
    body = await gql(client, SET, {"s": settings, "v": version}, token=tok)
    assert "errors" not in body, body
    return body["data"]["setCustomization"]


def keys(layout: dict[str, Any]) -> list[str]:
    return [s["key"] for s in layout["sections"]]


def stated(why: dict[str, Any]) -> bool:
    return (
        why["signalSources"] == ["STATED_BY_YOU"]
        and why["summary"].startswith("You chose this")
        and why["reasons"][0]["code"] == "YOUR_CHOICE"
    )


async def test_a_newbie_who_chose_the_full_layout_gets_it_with_a_new_etag(
    client: httpx.AsyncClient, token: Callable[..., str], db: asyncpg.Connection
) -> None:
    tok = token("user", NEWBIE)
    await track(client, tok, [world.ev("session_start")])
    first = await layout_get(client, tok)
    before = layout_of(first)
    assert before["tags"]["experience"] == "NEWBIE"
    assert keys(before) == ["welcome", "how_it_works", "popular", "categories"]
    assert before["appearance"]["why"]["reasons"][0]["code"] == "EDITORIAL"

    saved = await save(client, tok, {"layout": "FULL", "theme": "DARK", "accent": "forest", "fontScale": 1.3})
    assert saved["__typename"] == "Customization", saved
    assert (saved["version"], saved["layout"], saved["accentHex"]) == (1, "FULL", "#2E7D32")

    second = await layout_get(client, tok, etag=first.headers["etag"])
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    after = layout_of(second)
    assert after["tags"]["experience"] == "NEWBIE"  # the tag is unchanged; the choice wins
    assert keys(after) == ["home_feed", "offers", "categories", "search", "wishlist", "orders"]
    assert all(stated(s["why"]) for s in after["sections"])
    assert after["sections"][0]["why"]["purposes"] == ["essential.service"]
    flags = {f["key"]: f for f in after["flags"]}
    assert flags["onboarding_tips"]["enabled"] is False and stated(flags["onboarding_tips"]["why"])
    appearance = after["appearance"]
    assert (appearance["theme"], appearance["accent"], appearance["fontScale"]) == ("DARK", "forest", 1.3)
    assert appearance["layoutChoice"] == "FULL" and appearance["settingsVersion"] == 1
    assert stated(appearance["why"])
    # The same ETag again: 304, nothing recomputed.
    again = await layout_get(client, tok, etag=second.headers["etag"])
    assert again.status_code == 304

    # Pinned and hidden sections hold, in the person's order; a new version, a new ETag.
    saved = await save(client, tok, {"pinned": ["orders", "bookings"], "hidden": ["offers", "wishlist"]}, 1)
    assert saved["version"] == 2 and saved["layout"] == "FULL"  # left out: kept
    third = await layout_get(client, tok, etag=second.headers["etag"])
    assert third.status_code == 200 and third.headers["etag"] != second.headers["etag"]
    pinned = layout_of(third)
    assert keys(pinned) == ["orders", "bookings", "home_feed", "categories", "search"]
    assert [s["position"] for s in pinned["sections"]] == [1, 2, 3, 4, 5]
    assert pinned["sections"][0]["why"]["summary"] == "You chose this: you pinned this section to the top"
    assert pinned["appearance"]["hiddenSections"] == ["offers", "wishlist"]

    # The simple layout, chosen: tips on, shortcuts off, each saying so.
    await save(client, tok, {"layout": "SIMPLE", "pinned": [], "hidden": ["popular"]})
    simple = layout_of(await layout_get(client, tok))
    assert keys(simple) == ["welcome", "how_it_works", "categories"]
    assert all(stated(f["why"]) for f in simple["flags"] if f["key"] != "native_share")

    # Reset: back to what the app infers, as a new version (the ETag never repeats).
    reset = (await gql(client, RESET, token=tok))["data"]["resetCustomization"]
    assert reset == {"__typename": "Customization", "version": 4, "layout": None, "pinned": []}
    back = await layout_get(client, tok)
    assert keys(layout_of(back)) == keys(before) and back.headers["etag"] != first.headers["etag"]
    # Another person is untouched.
    assert keys(layout_of(await layout_get(client, token("user", OTHER)))) == keys(before)


async def test_choices_apply_at_level_none(
    client: httpx.AsyncClient, token: Callable[..., str], db: asyncpg.Connection
) -> None:
    await world.set_level(db, NEWBIE, "NONE")
    tok = token("user", NEWBIE)
    first = await layout_get(client, tok)
    default = layout_of(first)
    assert default["mode"] == "NON_PERSONALIZED"
    assert keys(default) == ["home_feed", "offers", "categories", "search", "wishlist", "orders"]
    assert (await save(client, tok, {"layout": "SIMPLE", "pinned": ["search"], "hidden": ["popular"]}))[
        "version"
    ] == 1
    second = await layout_get(client, tok, etag=first.headers["etag"])
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    chosen = layout_of(second)
    assert keys(chosen) == ["search", "welcome", "how_it_works", "categories"]
    assert all(stated(s["why"]) for s in chosen["sections"])
    # Nothing inferred was read or used: the tags stay the defaults, not personalized.
    assert chosen["tags"]["experience"] == default["tags"]["experience"]
    viewer = await gql(client, "{ viewer { customization { version layout pinned hidden } } }", token=tok)
    assert viewer["data"]["viewer"]["customization"] == {
        "version": 1,
        "layout": "SIMPLE",
        "pinned": ["search"],
        "hidden": ["popular"],
    }


async def test_invalid_settings_store_nothing_and_stale_versions_are_refused(
    client: httpx.AsyncClient, token: Callable[..., str], db: asyncpg.Connection
) -> None:
    tok = token("user", NEWBIE)
    cases = [
        ({"accent": "#ff0000"}, "settings.accent", "palette"),
        ({"accent": "x" * 5000}, "settings.accent", "palette"),
        ({"fontScale": 7.5}, "settings.fontScale", "one of"),
        ({"pinned": ["search", "admin'--"]}, "settings.pinned[1]", "not a section"),
        ({"pinned": ["search", "search"]}, "settings.pinned[1]", "twice"),
        ({"pinned": ["search"], "hidden": ["search"]}, "settings.pinned[0]", "pinned and hidden"),
        ({"hidden": ["home_feed"] * 11}, "settings.hidden", "at most 10"),
        ({}, "settings", "at least one"),
    ]
    for settings, field, needle in cases:
        result = await save(client, tok, settings)
        assert result["__typename"] == "InvalidInput", settings
        assert any(e["field"] == field and needle in e["message"] for e in result["errors"]), result
    assert await db.fetchval("SELECT count(*) FROM user_customization") == 0
    bad_type = await gql(client, SET, {"s": {"theme": "PURPLE"}}, token=tok)
    assert "errors" in bad_type

    assert (await save(client, tok, {"theme": "LIGHT"}, 0))["version"] == 1
    stale = await save(client, tok, {"theme": "DARK"}, 0)
    assert stale["__typename"] == "InvalidInput" and stale["errors"][0]["field"] == "expectedVersion"
    assert "version 1" in stale["errors"][0]["message"]
    assert (await save(client, tok, {"theme": "DARK"}, 1))["version"] == 2
    row = await db.fetchrow("SELECT theme, version FROM user_customization WHERE user_id = $1", NEWBIE)
    assert (row["theme"], row["version"]) == ("dark", 2)
    # Only for oneself: anonymous and other roles cannot write settings.
    anon = await gql(client, SET, {"s": {"theme": "DARK"}})
    assert anon["data"] is None or anon["data"]["setCustomization"] is None


async def test_an_anonymous_app_sends_its_client_held_settings(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    plain = await layout_get(client, None)
    default = layout_of(plain)
    variables = {
        "platform": "IOS",
        "appVersion": "4.2.0",
        "settings": {"layout": "SIMPLE", "theme": "DARK", "hidden": ["popular"]},
    }
    sent = await client.get(URL, params={"variables": orjson.dumps(variables).decode()})
    chosen = layout_of(sent)
    assert sent.headers["etag"] != plain.headers["etag"]
    assert keys(chosen) == ["welcome", "how_it_works", "categories"] != keys(default)
    why = chosen["sections"][0]["why"]
    assert stated(why) and why["purposes"] == [] and why["dataCategories"] == []
    assert why["matchedCriteria"] == ["Sent by your app from the settings kept on your device"]
    assert chosen["appearance"]["theme"] == "DARK" and chosen["appearance"]["settingsVersion"] == 0
    variables["settings"] = {"accent": "neon", "pinned": ["nope"]}
    refused = (await client.get(URL, params={"variables": orjson.dumps(variables).decode()})).json()
    result = refused["data"]["layoutConfig"]
    assert result["__typename"] == "InvalidInput"
    assert {e["field"] for e in result["errors"]} == {"settings.accent", "settings.pinned[0]"}
    assert await db.fetchval("SELECT count(*) FROM user_customization") == 0
    # The published options list what may be chosen.
    body = await gql(
        client, "{ customizationOptions { accents { name hex } fontScales sections maxSections } }"
    )
    opts = body["data"]["customizationOptions"]
    assert {"name": "ocean", "hex": "#1565C0"} in opts["accents"] and 1.0 in opts["fontScales"]
    assert "bookings" in opts["sections"] and opts["maxSections"] == 10


async def test_settings_are_exported_and_erased(
    client: httpx.AsyncClient, token: Callable[..., str], db: asyncpg.Connection
) -> None:
    tok = token("user", NEWBIE)
    await save(client, tok, {"layout": "FULL", "pinned": ["search"], "density": "COMPACT"})
    body = await gql(client, "mutation { requestDataExport { data } }", token=tok)
    assert "errors" not in body, body
    data = body["data"]["requestDataExport"]["data"]
    exported = (orjson.loads(data) if isinstance(data, str) else data)["customization"]
    assert (exported["layout"], exported["pinned"], exported["density"], exported["version"]) == (
        "full",
        ["search"],
        "compact",
        1,
    )
    erased = await gql(
        client, "mutation { eraseMyData(confirm: true) { ... on ErasureDone { tables } } }", token=tok
    )
    assert "user_customization" in erased["data"]["eraseMyData"]["tables"], erased
    assert await db.fetchval("SELECT count(*) FROM user_customization WHERE user_id = $1", NEWBIE) == 0


# --- the merge as a pure function (resolvers/layout/rules.py) ---


def _power_layout(custom: Customization) -> Any:
    from datetime import UTC, datetime, timedelta

    from privacy.consent import ConsentSnapshot, Level
    from resolvers.config import TagThresholds
    from resolvers.layout.config import LayoutConfig
    from resolvers.layout.rules import evaluate_layout
    from resolvers.model.signals import SignalSnapshot
    from resolvers.model.tags import decide_tags

    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    consent = ConsentSnapshot(user_id=3, granted=frozenset({"personalize.profiling"}), level=Level.FULL)
    signals = SignalSnapshot(
        member_since=now - timedelta(days=90),
        sessions=80,
        feature_counts={"scan": 9, "orders": 4, "a": 1, "b": 1, "c": 1, "d": 1},
    )
    tags = decide_tags(signals, consent, frozenset(), TagThresholds(), now)
    return evaluate_layout(tags, signals.feature_counts, LayoutConfig(), consent, now, 1, "ios", custom)


def test_a_power_user_choosing_full_keeps_the_inferred_lead_and_pins_win() -> None:
    full = _power_layout(Customization(layout=LayoutChoice.FULL, version=1))
    assert [c.key for c in full.sections][:2] == ["scan", "orders"]
    codes = [c.record.reasons[0].code for c in full.sections]
    assert codes[:2] == [ReasonCode.MOST_USED_FEATURE] * 2 and set(codes[2:]) == {ReasonCode.YOUR_CHOICE}
    quick = next(f for f in full.flags if f.key == "quick_actions")
    assert (
        quick.enabled and quick.record.reasons[0].code is ReasonCode.EXPERIENCE
    )  # not decided by the choice
    pinned = _power_layout(Customization(pinned=("home_feed",), hidden=("scan",), version=2))
    assert [c.key for c in pinned.sections][:2] == ["home_feed", "orders"]
    assert "scan" not in [c.key for c in pinned.sections]
    assert [c.record.rank for c in pinned.sections] == list(range(1, len(pinned.sections) + 1))
    for part in pinned.sections[0].record, pinned.appearance.record:
        assert part.signal_sources in ((SignalSource.STATED_BY_YOU,), ())
    assert pinned.sections[0].record.controls[0].kind is ControlKind.CHANGE_SETTINGS
    assert pinned.appearance.record.reasons[0].code is ReasonCode.EDITORIAL  # nothing chosen there

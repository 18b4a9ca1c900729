"""Layout tags and layoutConfig through the API (POST and the persisted GET with ETag / 304),
on users built with direct SQL and events sent through trackEvents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from gateway.etag_cache import settle_all
from gateway.persisted import DOCUMENTS_DIR, document_id
from tests import world
from tests.conftest import gql
from tests.test_events import track

LAYOUT_ID = document_id((DOCUMENTS_DIR / "layout.graphql").read_text())
URL = f"/graphql/persisted/{LAYOUT_ID}"
TAGS = """{ viewer { tags {
  experience priceTier
  experienceWhy {
    mode summary purposes matchedCriteria reasons { code } signalSources controls { kind purpose }
  }
  priceTierWhy { mode summary purposes matchedCriteria reasons { code } }
} } }"""
NEWBIE, POWER, BUDGET, LUXURY, NOPROFILING = 10, 11, 12, 13, 14


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, NEWBIE, member_days=2)
    for uid in (POWER, BUDGET, LUXURY):
        await world.add_user(conn, uid, member_days=60)
    await world.add_user(conn, NOPROFILING, member_days=60, purposes=(world.CONTENT,))
    try:
        yield conn
    finally:
        await conn.close()


async def make_power(client: httpx.AsyncClient, tok: str, user_id: int = POWER) -> None:
    events = [world.ev("session_start", ago_min=n) for n in range(35)]
    for feature, times in (
        ("wishlist", 5),
        ("search", 3),
        ("scan", 2),
        ("orders", 1),
        ("reorder", 1),
        ("help", 1),
    ):
        events += [world.ev("feature_used", feature=feature) for _ in range(times)]
    assert (await track(client, tok, events))["accepted"] == len(events)


async def layout_get(
    client: httpx.AsyncClient, tok: str | None, etag: str | None = None, platform: str = "IOS"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    if etag:
        headers["If-None-Match"] = etag
        # The app keeps the ETag's inputs in memory, dropped by NOTIFY (gateway/etag_cache.py):
        # a change this test made by SQL counts once its notification has been delivered.
        await settle_all()
    variables = orjson.dumps({"platform": platform, "appVersion": "4.2.0"}).decode()
    return await client.get(URL, params={"variables": variables}, headers=headers)


def layout_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    layout: dict[str, Any] = body["data"]["layoutConfig"]
    return layout


async def test_newbie_and_power_user_get_different_tags_and_layouts(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    await track(client, token("user", NEWBIE), [world.ev("session_start")])
    await make_power(client, token("user", POWER))
    newbie = (await gql(client, TAGS, token=token("user", NEWBIE)))["data"]["viewer"]["tags"]
    power = (await gql(client, TAGS, token=token("user", POWER)))["data"]["viewer"]["tags"]
    assert newbie["experience"] == "NEWBIE" and power["experience"] == "POWER"
    assert newbie["experienceWhy"]["mode"] == "PERSONALIZED"
    assert set(newbie["experienceWhy"]["matchedCriteria"]) == {
        "fewer than 5 sessions",
        "member for less than 14 days",
    }
    assert "at least 30 sessions" in power["experienceWhy"]["matchedCriteria"]
    assert power["experienceWhy"]["reasons"][0]["code"] == "EXPERIENCE"
    assert power["experienceWhy"]["purposes"] == ["personalize.profiling"]
    assert power["experienceWhy"]["signalSources"] == ["YOUR_ACTIVITY_HERE"]
    assert {"kind": "OPEN_CONSENT", "purpose": "personalize.profiling"} in power["experienceWhy"]["controls"]

    new_layout = layout_of(await layout_get(client, token("user", NEWBIE)))
    power_layout = layout_of(await layout_get(client, token("user", POWER)))
    assert [s["key"] for s in new_layout["sections"]] == ["welcome", "how_it_works", "popular", "categories"]
    assert new_layout["sections"][0]["why"]["reasons"][0]["code"] == "EXPERIENCE"
    # Most-used features first, by use; "help" is no section.
    assert [s["key"] for s in power_layout["sections"][:5]] == [
        "wishlist",
        "search",
        "scan",
        "orders",
        "reorder",
    ]
    assert power_layout["sections"][0]["why"]["reasons"][0]["code"] == "MOST_USED_FEATURE"
    assert power_layout["sections"][5]["why"]["reasons"][0]["code"] == "EXPERIENCE"
    flags = {f["key"]: f["enabled"] for f in new_layout["flags"]}
    assert flags == {"onboarding_tips": True, "quick_actions": False, "native_share": True}
    assert {f["key"]: f["enabled"] for f in power_layout["flags"]}["quick_actions"] is True
    # Each choice is logged as the record it was rendered from.
    logged = await db.fetchval(
        "SELECT count(*) FROM decisions WHERE user_id = $1 AND subject_kind = 'layout'", POWER
    )
    # sections, the offer count, the flags and the appearance
    assert logged == len(power_layout["sections"]) + 1 + len(power_layout["flags"]) + 1


async def test_budget_and_luxury_users_get_different_tiers(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    await track(client, token("user", BUDGET), [world.ev("purchase", itemId="101") for _ in range(3)])
    await track(
        client, token("user", LUXURY), [world.ev("purchase", itemId="103"), world.ev("booking", itemId="202")]
    )
    budget = layout_of(await layout_get(client, token("user", BUDGET)))
    luxury = layout_of(await layout_get(client, token("user", LUXURY)))
    assert (budget["tags"]["priceTier"], budget["offers"]["count"]) == ("BUDGET", 3)
    assert (luxury["tags"]["priceTier"], luxury["offers"]["count"]) == ("LUXURY", 1)
    assert luxury["offers"]["why"]["reasons"][0]["code"] == "PRICE_TIER"
    tags = (await gql(client, TAGS, token=token("user", LUXURY)))["data"]["viewer"]["tags"]
    assert tags["priceTierWhy"]["reasons"][0]["code"] == "PRICE_TIER"
    assert tags["priceTierWhy"]["matchedCriteria"] == ["bought or booked mostly at price level 3 or above"]


async def test_without_profiling_consent_tags_are_defaults(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    await make_power(client, token("user", NOPROFILING), NOPROFILING)
    tags = (await gql(client, TAGS, token=token("user", NOPROFILING)))["data"]["viewer"]["tags"]
    assert (tags["experience"], tags["priceTier"]) == ("REGULAR", "MID")
    assert tags["experienceWhy"]["mode"] == "NON_PERSONALIZED"
    assert "no consent for personalize.profiling" in tags["experienceWhy"]["summary"]
    # The signals were not even read: no audit entry for them.
    reads = await db.fetch(
        "SELECT table_name FROM audit_log WHERE subject_user_id = $1 AND action = 'read'", NOPROFILING
    )
    assert "user_signals" not in {r["table_name"] for r in reads}
    await db.execute(
        "INSERT INTO user_controls (user_id, kind, target) VALUES ($1, 'hide_inference', 'tag:experience')",
        POWER,
    )
    await make_power(client, token("user", POWER))
    hidden = (await gql(client, TAGS, token=token("user", POWER)))["data"]["viewer"]["tags"]
    assert hidden["experience"] == "REGULAR" and "you hid this tag" in hidden["experienceWhy"]["summary"]


async def test_layout_get_answers_304_until_something_that_matters_changes(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", NEWBIE)
    first = await layout_get(client, tok)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private, max-age=")
    assert layout_of(first)["tags"]["experience"] == "NEWBIE"
    logged = await db.fetchval("SELECT count(*) FROM decisions WHERE user_id = $1", NEWBIE)

    cached = await layout_get(client, tok, etag)
    assert cached.status_code == 304 and cached.headers["etag"] == etag and cached.content == b""
    # 304 without executing the operation: nothing new in the decision log.
    assert await db.fetchval("SELECT count(*) FROM decisions WHERE user_id = $1", NEWBIE) == logged
    # Other variables are another document instance.
    assert (await layout_get(client, tok, etag, platform="WEB")).status_code == 200

    # Tag inputs: enough sessions make the newbie a regular user.
    await track(client, tok, [world.ev("session_start", ago_min=n) for n in range(6)])
    await db.execute("UPDATE users SET created_at = now() - interval '20 days' WHERE user_id = $1", NEWBIE)
    after_events = await layout_get(client, tok, etag)
    assert after_events.status_code == 200 and after_events.headers["etag"] != etag
    assert layout_of(after_events)["tags"]["experience"] == "REGULAR"
    etag = after_events.headers["etag"]
    assert (await layout_get(client, tok, etag)).status_code == 304

    await world.grant(db, NEWBIE, world.PROFILING, False)
    after_consent = await layout_get(client, tok, etag)
    assert after_consent.status_code == 200 and after_consent.headers["etag"] != etag
    assert layout_of(after_consent)["mode"] == "NON_PERSONALIZED"
    etag = after_consent.headers["etag"]

    await world.set_level(db, NEWBIE, "BASIC")
    after_level = await layout_get(client, tok, etag)
    assert after_level.status_code == 200 and after_level.headers["etag"] != etag
    etag = after_level.headers["etag"]

    await db.execute(
        "INSERT INTO user_controls (user_id, kind, target) VALUES ($1, 'hide_inference', 'tag:price_tier')",
        NEWBIE,
    )
    after_hiding = await layout_get(client, tok, etag)
    assert after_hiding.status_code == 200 and after_hiding.headers["etag"] != etag
    etag = after_hiding.headers["etag"]

    await db.execute("UPDATE config_versions SET version = version + 1 WHERE name = 'layout'")
    after_config = await layout_get(client, tok, etag)
    assert after_config.status_code == 200 and layout_of(after_config)["configVersion"] == 2


async def test_anonymous_layout_is_the_public_default(client: httpx.AsyncClient, db: Any) -> None:
    response = await layout_get(client, None)
    layout = layout_of(response)
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert layout["mode"] == "NON_PERSONALIZED"
    assert (layout["tags"]["experience"], layout["tags"]["priceTier"], layout["offers"]["count"]) == (
        "REGULAR",
        "MID",
        2,
    )
    assert [s["key"] for s in layout["sections"]][:2] == ["home_feed", "offers"]
    assert all(s["why"]["purposes"] == [] for s in layout["sections"])
    assert (await layout_get(client, None, response.headers["etag"])).status_code == 304


async def test_layout_payload_holds_no_thresholds_raw_values_or_prices(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    await make_power(client, token("user", POWER))
    await track(client, token("user", POWER), [world.ev("purchase", itemId="103")])
    layout = layout_of(await layout_get(client, token("user", POWER)))
    text = orjson.dumps(layout).decode()
    for word in ("price_cents", "priceCents", "threshold", "min_sessions", "25000", "mean"):
        assert word not in text

    def strings(node: Any, key: str = "") -> list[str]:
        if isinstance(node, dict):
            return [s for k, v in node.items() for s in strings(v, k)]
        if isinstance(node, list):
            return [s for v in node for s in strings(v, key)]
        return (
            [node]
            if isinstance(node, str) and key not in ("decisionId", "generatedAt", "consentSnapshotId")
            else []
        )

    # No number in any text: no thresholds, counts, amounts or levels.
    assert [s for s in strings(layout) if re.search(r"\d", s)] == []


async def test_unknown_document_and_bad_variables(client: httpx.AsyncClient, db: Any) -> None:
    assert (await client.get("/graphql/persisted/" + "0" * 64)).status_code == 404
    assert (await client.get(URL, params={"variables": "[1]"})).status_code == 400
    bad = await client.get(URL, params={"variables": '{"platform": "IOS", "appVersion": "latest"}'})
    assert bad.json()["data"]["layoutConfig"]["__typename"] == "InvalidInput"


async def test_tags_are_decided_and_logged_once_per_operation(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    """viewer.tags and layoutConfig.tags in one operation render the same decision records,
    and each tag is written to the decision log once."""
    tok = token("user", POWER)
    await make_power(client, tok)
    body = await gql(
        client,
        """{ viewer { tags { experienceWhy { decisionId } priceTierWhy { decisionId } } }
             layoutConfig(platform: IOS, appVersion: "4.2.0") {
               ... on LayoutConfig {
                 tags { experienceWhy { decisionId } priceTierWhy { decisionId } } } } }""",
        token=tok,
        headers={"x-request-id": "req-tags-once"},
    )
    assert body["data"]["viewer"]["tags"] == body["data"]["layoutConfig"]["tags"]
    logged = await db.fetch(
        "SELECT subject_id, count(*) AS n FROM decisions WHERE user_id = $1 AND subject_kind = 'tag'"
        " GROUP BY subject_id",
        POWER,
    )
    assert logged and all(r["n"] == 1 for r in logged), logged

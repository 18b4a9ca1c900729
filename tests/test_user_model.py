"""One user model per operation: whatever fields a viewer operation selects, each fact about the
person is read once, through the guard, and audited once per purpose that uses it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

import gateway.app
from gateway import Settings
from privacy.principal import Role
from sql import create_pool
from tests.conftest import gql, running_client

VIEWER = """query Everything { viewer {
  tags { experience priceTier experienceWhy { decisionId } priceTierWhy { decisionId } }
  feed(surface: HOME, limit: 10) { item { id } why { reasons { code } controls { kind target } } }
  offers(surface: OFFERS) { offer { id } why { summary } }
  reminders { item { id } why { summary } }
  inferences { key hidden }
}
layoutConfig(platform: IOS, appVersion: "4.2.0") {
  ... on LayoutConfig { configVersion tags { experience } sections { key } offers { count } }
} }"""


@asynccontextmanager
async def counted(settings: Settings, statements: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    """The real app whose pool logs every statement its connections run into `statements`."""

    async def create_counting_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:
        return await create_pool(dsn, query_logger=lambda record: statements.append(record.query), **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(gateway.app, "create_pool", create_counting_pool)
    try:
        async with running_client(settings) as client:
            yield client
    finally:
        mp.undo()


async def test_the_whole_viewer_costs_at_most_four_statements(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    statements: list[str] = []
    # One connection: the warm-up request meets every type the operation uses on it (asyncpg
    # looks a type up with catalog queries the first time a connection meets it).
    one = demo_settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})
    async with counted(one, statements) as client:
        marketer = demo_token(Role.MARKETER, "m")
        made = await gql(
            client,
            """mutation { createOffer(input: {name: "Thanks", kind: "spend_over", discountPct: 5,
                 params: {min_spend_cents: 1}, capPerWindow: 100, capWindowHours: 1}) { __typename } }""",
            token=marketer,
        )
        assert made["data"]["createOffer"]["__typename"] == "Offer"
        user = demo_token(Role.USER, 1)  # the power-shopper persona: every surface has something
        warm = await gql(client, VIEWER, token=user)  # reference data and connections warm up
        assert "errors" not in warm, warm
        statements.clear()
        body = await gql(client, VIEWER, token=user, headers={"x-request-id": "count-the-statements"})
    assert "errors" not in body, body
    viewer = body["data"]["viewer"]
    assert viewer["feed"] and viewer["offers"] and viewer["reminders"] and viewer["inferences"]
    # account, activity, offer serving (with its audit), and the log write: nothing else.
    assert len(statements) <= 4, statements
    ran = " ".join(statements)
    for fragment in ("FROM users u", "user_signals", "serve_offers(", "log_operation("):
        assert fragment in ran, (fragment, statements)
    # The tags the layout shows are the very records `viewer { tags }` shows.
    assert body["data"]["layoutConfig"]["tags"]["experience"] == viewer["tags"]["experience"]

    conn = await asyncpg.connect(demo_dsn)
    try:
        audit = await conn.fetch(
            "SELECT purpose, table_name, action FROM audit_log WHERE request_id = 'count-the-statements'"
        )
    finally:
        await conn.close()
    entries = Counter((r["purpose"], r["table_name"], r["action"]) for r in audit)
    assert entries and max(entries.values()) == 1  # one entry per purpose per table
    purposes = {p for p, _, _ in entries}
    # Each purpose that used the activity is audited for it, though it was read once.
    for purpose in ("personalize.content", "personalize.profiling", "marketing.offers"):
        assert (purpose, "user_signals", "read") in entries, purpose
    assert "essential.service" in purposes
    assert ("marketing.offers", "impressions", "write") in entries

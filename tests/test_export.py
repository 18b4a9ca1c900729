"""The complete export: every table that holds a user id is in it, every event comes back (no
cap) with its item's name and a sensitive flag, through a short-lived link, and streaming keeps
memory flat (50,000 events, measured)."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import orjson
import psutil
import pytest

from gateway import Settings
from privacy.export import EXPORT_TABLES
from privacy.principal import Role
from tests import world
from tests.conftest import gql
from tests.live import live_server

USER = 31
# Tables holding a user id that the export does not read, each with its reason.
NOT_EXPORTED: dict[str, str] = {}
USER_TABLES = """
SELECT DISTINCT c.table_name
FROM information_schema.columns c
JOIN pg_class k ON k.relname = c.table_name
JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema
WHERE c.table_schema = 'public' AND c.column_name IN ('user_id', 'subject_user_id')
  AND k.relkind IN ('r', 'p') AND NOT k.relispartition
ORDER BY 1
"""
EXPORT = "mutation { requestDataExport { complete data download { url expiresAt } } }"


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, USER, member_days=30)
    try:
        yield conn
    finally:
        await conn.close()


async def add_events(conn: asyncpg.Connection, user_id: int, n: int) -> None:
    """n events in the last 30 days, every 7th a view of the sensitive item 105."""
    await conn.execute(
        """INSERT INTO events (user_id, event_id, type, item_id, occurred_at)
           SELECT $1, gen_random_uuid(), 'view', CASE WHEN g % 7 = 0 THEN 105 ELSE 101 + g % 4 END,
                  now() - (g % 43200) * interval '1 minute'
           FROM generate_series(1, $2) AS g""",
        user_id,
        n,
    )


async def test_every_table_holding_a_user_id_is_exported(db: asyncpg.Connection) -> None:
    tables = {r["table_name"] for r in await db.fetch(USER_TABLES)}
    assert {"users", "events", "decisions", "outbox", "export_links"} <= tables
    missing = tables - EXPORT_TABLES - set(NOT_EXPORTED)
    assert not missing, f"user data not in the export: {sorted(missing)}"


async def test_complete_export_through_a_short_lived_link(
    client: httpx.AsyncClient, token: Callable[..., str], db: asyncpg.Connection
) -> None:
    await add_events(db, USER, 1500)
    tok = token(Role.USER, USER)
    hide = 'mutation { applyControl(kind: HIDE, target: "item:102") { __typename } }'
    assert "errors" not in await gql(client, hide, token=tok)
    body = await gql(client, EXPORT, token=tok)
    export = body["data"]["requestDataExport"]
    # inline stays bounded and says so
    assert export["complete"] is False and export["data"]["events"]["total"] == 1500
    assert len(export["data"]["events"]["items"]) == 1000
    response = await client.get(export["download"]["url"])
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    secret = export["download"]["url"].rsplit("/", 1)[1]
    metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {token(Role.ADMIN, 'ops')}"})
    assert metrics.status_code == 200 and "/v1/export" in metrics.text
    assert secret not in metrics.text  # the link's secret is never a label
    full = orjson.loads(response.content)
    events = full["events"]["items"]
    assert full["complete"] and full["events"]["total"] == len(events) == 1500
    assert all(e["item_name"] == f"item {e['item_id']}" and e["item_category"] for e in events)
    assert {e["sensitive"] for e in events if e["item_id"] == 105} == {True}
    assert not any(e["sensitive"] for e in events if e["item_id"] != 105)
    assert full["account"]["user_id"] == USER and full["exportLinks"]
    assert [c["target_name"] for c in full["controls"]] == ["item 102"]  # named, not only an id
    for section in ("decisions", "messages"):
        assert full[section]["complete"] and full[section]["total"] == len(full[section]["items"])
    assert full["consent"]["history"]["total"] == len(full["consent"]["history"]["items"])
    # the export is audited as an export of each table it read
    audited = await db.fetch(
        "SELECT DISTINCT table_name FROM audit_log WHERE subject_user_id = $1 AND action = 'export'", USER
    )
    assert {"events", "outbox", "decisions", "consent_events"} <= {r["table_name"] for r in audited}
    # an unknown or expired link opens nothing; erasure removes the person's links
    assert (await client.get(export["download"]["url"] + "x")).status_code == 404
    await db.execute("UPDATE export_links SET expires_at = now() - interval '1 second'")
    assert (await client.get(export["download"]["url"])).status_code == 404
    erased = await gql(client, "mutation { eraseMyData(confirm: true) { __typename } }", token=tok)
    assert erased["data"]["eraseMyData"]["__typename"] == "ErasureDone"
    assert await db.fetchval("SELECT count(*) FROM export_links") == 0


async def test_fifty_thousand_events_stream_with_flat_memory(
    settings: Settings, token: Callable[..., str], db: asyncpg.Connection
) -> None:
    """Issue 15: 50,000 events, all exported, while memory grows by less than 50 MiB. The gateway
    runs behind uvicorn on a loopback port in this process, and the client discards what it
    reads, so the growth measured is the gateway's (an upper bound: the client is in it too)."""
    await add_events(db, USER, 50_000)
    tok = token(Role.USER, USER)
    with live_server(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            export = (await gql(client, EXPORT, token=tok))["data"]["requestDataExport"]
            assert export["complete"] is False and export["data"]["events"]["total"] == 50_000
            process = psutil.Process()
            rss_before = rss_peak = process.memory_info().rss
            tracemalloc.start()
            try:
                baseline = tracemalloc.get_traced_memory()[0]
                size = events = sensitive = 0
                tail = b""
                async with client.stream("GET", export["download"]["url"]) as response:
                    assert response.status_code == 200
                    async for chunk in response.aiter_raw():
                        size += len(chunk)
                        window = tail + chunk  # a key may be split between two chunks
                        events += window.count(b'"event_id"') - tail.count(b'"event_id"')
                        sensitive += window.count(b'"sensitive":true') - tail.count(b'"sensitive":true')
                        tail = chunk[-32:]
                        rss_peak = max(rss_peak, process.memory_info().rss)
                peak = tracemalloc.get_traced_memory()[1] - baseline
            finally:
                tracemalloc.stop()
    assert events == 50_000 and sensitive == 50_000 // 7  # every 7th is the sensitive item
    assert size > 5 * 2**20  # the document itself is large
    # Python's allocations (tracemalloc, every thread) and the process as the OS sees it (RSS,
    # which also counts the driver's and the server's buffers) stay far below 50 MiB
    assert peak < 50 * 2**20, f"memory grew by {peak / 2**20:.1f} MiB"
    assert rss_peak - rss_before < 50 * 2**20, f"RSS grew by {(rss_peak - rss_before) / 2**20:.1f} MiB"

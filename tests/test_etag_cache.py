"""The layout ETag's inputs kept in memory per worker (gateway/etag_cache.py): a 304 without a
database round trip, and never a stale 304 after a change made through another worker, another
tool, or SQL (migration 0520's NOTIFY)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from gateway import Settings, create_app
from gateway.etag_cache import VersionCache
from gateway.persisted import DOCUMENTS_DIR, document_id
from tests import world
from tests.conftest import _with_state, gql
from tests.test_events import track

URL = f"/graphql/persisted/{document_id((DOCUMENTS_DIR / 'layout.graphql').read_text())}"
USER = 21
VARIABLES = orjson.dumps({"platform": "IOS", "appVersion": "4.2.0"}).decode()


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, VersionCache]]:
    """One gateway app instance (its own pool, listener and cache), like one uvicorn worker."""
    app = create_app(settings)
    persisted = next(r for r in app.routes if getattr(r, "path", "").startswith("/graphql/persisted"))
    cache: VersionCache = persisted.endpoint.__self__.versions  # type: ignore[attr-defined]
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield c, cache


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, USER, member_days=60)
    try:
        yield conn
    finally:
        await conn.close()


async def get(client: httpx.AsyncClient, tok: str, etag: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tok}"}
    if etag:
        headers["If-None-Match"] = etag
    return await client.get(URL, params={"variables": VARIABLES}, headers=headers)


async def test_no_stale_304_across_two_workers(
    settings: Settings, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", USER)
    async with worker(settings) as (a, cache_a), worker(settings) as (b, _cache_b):
        await track(b, tok, [world.ev("session_start", ago_min=n) for n in range(3)])  # both rows exist
        await cache_a.settle()
        first = await get(a, tok)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert (await get(b, tok)).headers["etag"] == etag  # every worker computes the same ETag

        # A hit answers from memory: no database read at all.
        reads = cache_a.reads
        for _ in range(3):
            assert (await get(a, tok, etag)).status_code == 304
        assert cache_a.reads == reads and cache_a.hits >= 3

        # A change through worker B (the level moves consent_version): worker A answers 200.
        level = await gql(b, "mutation { setPersonalizationLevel(level: BASIC) { level } }", token=tok)
        assert level["data"]["setPersonalizationLevel"]["level"] == "BASIC"
        await cache_a.settle()
        after_level = await get(a, tok, etag)
        assert after_level.status_code == 200 and after_level.headers["etag"] != etag
        etag = after_level.headers["etag"]
        assert (await get(a, tok, etag)).status_code == 304 and (await get(b, tok, etag)).status_code == 304

        # Events through worker B that change the tag inputs (layout_inputs_version).
        before = await db.fetchval("SELECT layout_inputs_version FROM user_signals WHERE user_id = $1", USER)
        events = [world.ev("session_start", ago_min=n) for n in range(10, 40)]
        events += [world.ev("feature_used", feature=f) for f in ("wishlist", "search", "scan", "orders")]
        await track(b, tok, events)
        assert (
            await db.fetchval("SELECT layout_inputs_version FROM user_signals WHERE user_id = $1", USER)
            != before
        )
        await cache_a.settle()
        after_events = await get(a, tok, etag)
        assert after_events.status_code == 200 and after_events.headers["etag"] != etag
        etag = after_events.headers["etag"]

        # A change by another tool (SQL): consent, then the public rule version.
        assert (await get(a, tok, etag)).status_code == 304
        await world.grant(db, USER, world.PROFILING, False)
        await cache_a.settle()
        after_consent = await get(a, tok, etag)
        assert after_consent.status_code == 200 and after_consent.headers["etag"] != etag
        etag = after_consent.headers["etag"]
        assert (await get(a, tok, etag)).status_code == 304
        await db.execute("UPDATE config_versions SET version = version + 1 WHERE name = 'layout'")
        await cache_a.settle()
        after_config = await get(a, tok, etag)
        assert (
            after_config.status_code == 200
            and after_config.json()["data"]["layoutConfig"]["configVersion"] == 2
        )

        # The person's own settings through worker B: the first save (an insert), then a reset.
        etag = after_config.headers["etag"]
        assert (await get(a, tok, etag)).status_code == 304
        for mutation in (
            "mutation { setCustomization(settings: {layout: FULL}) { __typename } }",
            "mutation { resetCustomization { __typename } }",
        ):
            saved = await gql(b, mutation, token=tok)
            assert next(iter(saved["data"].values()))["__typename"] == "Customization", saved
            await cache_a.settle()
            after_settings = await get(a, tok, etag)
            assert after_settings.status_code == 200 and after_settings.headers["etag"] != etag
            etag = after_settings.headers["etag"]
            assert (await get(a, tok, etag)).status_code == 304

        # Erasure-like removal: the user row goes, no 304 for the old ETag.
        await db.execute("DELETE FROM users WHERE user_id = $1", USER)
        await cache_a.settle()
        assert (await get(a, tok, etag)).status_code != 304


async def test_without_its_listener_the_cache_reads_the_database(
    settings: Settings, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", USER)
    async with worker(settings) as (a, cache):
        await track(a, tok, [world.ev("session_start", ago_min=1)])
        etag = (await get(a, tok)).headers["etag"]
        cache.live = False  # as while its connection is lost: nothing is served from memory
        reads = cache.reads
        assert (await get(a, tok, etag)).status_code == 304
        assert (await get(a, tok, etag)).status_code == 304
        assert cache.reads == reads + 2


async def test_the_persisted_lane_answers_like_the_route(
    settings: Settings, token: Callable[..., str], db: Any
) -> None:
    """The persisted GET skips the router and reuses parsed variables per query string: the
    same answers, headers and refusals as before, every time."""
    tok = token("user", USER)
    async with worker(settings) as (a, _cache):
        headers = {"Authorization": f"Bearer {tok}"}
        for _ in range(2):  # the second time from the per-query-string entry
            first = await get(a, tok)
            assert first.status_code == 200 and first.headers["x-request-id"]
            assert first.headers["cache-control"].startswith("private, max-age=")
            assert first.headers["x-content-type-options"] == "nosniff"
            bad = await a.get(URL, params={"variables": '{"platform": "IOS"}'}, headers=headers)
            assert bad.status_code == 200 and bad.json()["errors"] and "etag" not in bad.headers
            malformed = await a.get(URL, params={"variables": "{"}, headers=headers)
            assert malformed.status_code == 400 and malformed.json()["errors"][0]["extensions"]["request_id"]
            unknown = await a.get("/graphql/persisted/" + "f" * 64, headers=headers)
            assert unknown.status_code == 404
        again = await get(a, tok)
        assert again.headers["etag"] == first.headers["etag"]
        # not a GET: the router answers, as before
        assert (await a.post(URL, headers=headers)).status_code == 405
        nested = await a.get(URL + "/x", headers=headers)
        assert nested.status_code == 404

"""Time is an output too: the database work of every analyst template grows with one user's data
only up to the per-user bound (privacy/PROOFS.md, "Timing"). Deterministic: the work is counted
from EXPLAIN (ANALYZE, BUFFERS) — rows through every plan node and buffers touched — not from a
clock. A heavy user planted through the API (50,000 distinct feature names, thousands of sessions,
purchases across every category) may add no more work than the largest user the bounds allow."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from privacy.dp import templates
from privacy.dp.query import AudienceFilter, AudienceParams, DPQuery, Template
from privacy.principal import Role
from resolvers.analytics.args import params_from
from resolvers.config import DomainConfig
from tests.conftest import gql
from tests.dp_data import seed_audience

CONFIG = DomainConfig()
PARAMS: AudienceParams = params_from(CONFIG)
HEAVY, MAXIMAL = 900_001, 900_002
# Work no user's data decides: the planner may add or drop a node between runs, rows may sit on a
# page more or less.
SLACK_ROWS, SLACK_BUFFERS = 16, 8
TRACK = (
    "mutation($e: [EventInput!]!) { trackEvents(events: $e) { __typename ... on InvalidInput { message } } }"
)
QUERIES = [
    DPQuery(Template.DISTINCT_USERS, Decimal(1)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("EXPERIENCE",)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("COUNTRY", "PLATFORM")),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("CATEGORY",)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("FEATURE",)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("SEGMENT",)),
    DPQuery(Template.ORDER_VALUE_SUM, Decimal(1), AudienceFilter(window="LAST_365_DAYS")),
    DPQuery(Template.ORDER_VALUE_MEAN, Decimal(1), AudienceFilter(window="LAST_30_DAYS", category="apparel")),
    DPQuery(Template.HISTOGRAM, Decimal(1), metric="SESSIONS"),
    DPQuery(Template.FUNNEL, Decimal(1), dimensions=("EXPERIENCE",)),
    DPQuery(Template.FUNNEL, Decimal(1), dimensions=("CATEGORY",)),
]


class _Recorder:
    """Stands in for the pool inside `templates.run`: runs each statement on the real database and
    keeps it with its arguments, so the test can EXPLAIN exactly what a release runs."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.statements.append((query, args))
        return list(await self.pool.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.statements.append((query, args))
        return await self.pool.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.statements.append((query, args))
        return await self.pool.fetchval(query, *args)


def _walk(plan: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _walk(child)


async def work(pool: asyncpg.Pool, query: DPQuery) -> tuple[int, int]:
    """(rows through every plan node, shared buffers touched) of the template's statements."""
    recorder = _Recorder(pool)
    await templates.run_without_noise(recorder, query, PARAMS)  # type: ignore[arg-type]
    rows = buffers = 0
    async with pool.acquire() as conn, conn.transaction():
        # One plan shape whatever else the machine runs: parallel workers launch (or not) with
        # the load, and each changes the loops counted below. Fresh statistics for the planner.
        await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for statement, args in recorder.statements:
            raw = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *args)
            top = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            for node in _walk(top["Plan"]):
                rows += int(node["Actual Rows"]) * int(node["Actual Loops"])
            buffers += sum(
                int(top["Plan"].get(k, 0)) for k in ("Shared Hit Blocks", "Shared Read Blocks")
            ) + sum(
                int(top.get("Planning", {}).get(k, 0)) for k in ("Shared Hit Blocks", "Shared Read Blocks")
            )
    return rows, buffers


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    await seed_audience(db_dsn, 1, 300)
    p = await asyncpg.create_pool(db_dsn, min_size=1, max_size=2)
    try:
        await p.execute(
            "INSERT INTO items (item_id, sku, name, category, subcategory, kind, price_cents, price_level)"
            " SELECT 7000 + g, 'dp-' || g, c || ' item', c, 'any', 'product', 1000 * g, 1 + g % 4"
            " FROM unnest($1::text[]) WITH ORDINALITY AS x(c, g)",
            list(CONFIG.dp.categories),
        )
        for n in range(3):
            await p.execute(
                "WITH s AS (INSERT INTO segments (name, created_by) VALUES ($1, 'm') RETURNING segment_id)"
                " INSERT INTO segment_versions (segment_id, version, rule, created_by)"
                ' SELECT segment_id, 1, \'{"attr": "sessions", "op": "gte", "value": 0}\', \'m\' FROM s',
                f"all-{n}",
            )
        yield p
    finally:
        await p.close()


async def _add_user(pool: asyncpg.Pool, user_id: int) -> None:
    await pool.execute(
        "INSERT INTO users (user_id, created_at, country, platform)"
        " VALUES ($1, now() - interval '500 days', 'US', 'web')",
        user_id,
    )
    await pool.execute(
        "INSERT INTO consents (user_id, purpose, granted, method, notice_version)"
        " VALUES ($1, 'analytics.aggregate', true, 'explicit', 1),"
        " ($1, 'personalize.content', true, 'explicit', 1), ($1, 'marketing.offers', true, 'explicit', 1)",
        user_id,
    )
    await pool.execute(
        "INSERT INTO segment_members (user_id, segment_id, version) SELECT $1, segment_id, 1 FROM segments",
        user_id,
    )


def _event(kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind.upper(), "occurredAt": at.isoformat(), **fields}


async def _plant_heavy_through_the_api(client: Any, token: Any, pool: asyncpg.Pool) -> None:
    """50,000 distinct feature names, 2,000 sessions and purchases in every category, sent as an
    app sends them: through trackEvents, the path an attacker has."""
    await _add_user(pool, HEAVY)
    app = token(Role.APP, "attacker-app")
    now = datetime.now(UTC)
    events = [_event("feature_used", now - timedelta(minutes=1), feature=f"f{n:05d}", userId=str(HEAVY))
              for n in range(50_000)]  # fmt: skip
    events += [
        _event("session_start", now - timedelta(minutes=n % 600), userId=str(HEAVY)) for n in range(2_000)
    ]
    categories = len(CONFIG.dp.categories)
    events += [
        _event("purchase", now - timedelta(days=n % 29), itemId=str(7001 + n % categories), userId=str(HEAVY))
        for n in range(200)
    ]
    for start in range(0, len(events), 1000):
        body = await gql(client, TRACK, {"e": events[start : start + 1000]}, token=app)
        assert body["data"]["trackEvents"]["__typename"] == "TrackEventsResult", body


async def _plant_maximal(pool: asyncpg.Pool) -> None:
    """The largest user the per-user bounds allow: every cap reached exactly, through the same
    rollup function ingestion uses (with 400 days of purchases, which ingestion's 30-day window
    would not accept at once)."""
    await _add_user(pool, MAXIMAL)
    cap = CONFIG.ingest.max_features_per_user
    now = datetime.now(UTC)
    kinds, items, at, features = [], [], [], []
    for n in range(cap):
        kinds.append("feature_used"), items.append(None), at.append(now), features.append(f"m{n}")
    for day in range(400):
        kinds.append("purchase")
        items.append(7001 + day % len(CONFIG.dp.categories))
        at.append(now - timedelta(days=day))
        features.append(None)
    await pool.execute(
        "SELECT apply_rollups($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11)",
        [MAXIMAL] * len(kinds), kinds, items, [1000] * len(kinds), features, [None] * len(kinds), at,
        cap, CONFIG.model.searches_kept, CONFIG.ingest.max_purchased_items_per_user,
        CONFIG.ingest.max_cart_lines_per_user,
    )  # fmt: skip


async def test_one_users_data_moves_every_templates_work_by_at_most_the_per_user_bound(
    client, token, pool: asyncpg.Pool
) -> None:
    await pool.execute("ANALYZE")
    before = [await work(pool, q) for q in QUERIES]
    await _plant_maximal(pool)
    maximal = [await work(pool, q) for q in QUERIES]
    await pool.execute("DELETE FROM users WHERE user_id = $1", MAXIMAL)  # cascades to the rollups
    await _plant_heavy_through_the_api(client, token, pool)
    # The heavy user really is in the audience, and their footprint is capped at ingestion.
    assert await pool.fetchval("SELECT count(*) FROM user_features WHERE user_id = $1", HEAVY) == (
        CONFIG.ingest.max_features_per_user
    )
    assert await pool.fetchval("SELECT sessions FROM user_signals WHERE user_id = $1", HEAVY) == 2_000
    # The same statistics as for the runs before: one user among 300 changes no plan by itself.
    heavy = [await work(pool, q) for q in QUERIES]
    for q, b, m, h in zip(QUERIES, before, maximal, heavy, strict=True):
        bound_rows, bound_buffers = m[0] - b[0], m[1] - b[1]
        # The bound itself is small and independent of the user's history beyond the caps.
        assert bound_rows <= 1_500, (q, bound_rows)
        # What the heavy user adds is within what the largest allowed user adds, with slack for
        # what no user controls: a plan node more or less, a page more or less.
        assert h[0] - b[0] <= bound_rows + SLACK_ROWS, (q, h[0] - b[0], bound_rows)
        assert h[1] - b[1] <= bound_buffers + SLACK_BUFFERS, (q, h[1] - b[1], bound_buffers)

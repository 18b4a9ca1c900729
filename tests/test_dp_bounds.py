"""Contribution bounds and key selection on a real database ("Done when" 4, 5 and the API half of 6):
one user's 10,000 extra rows move a pre-noise answer by at most the stated sensitivity; a key
held by one user is never released while a common key nearly always is; small true counts are
not clipped at n."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from privacy.dp import templates
from privacy.dp.query import AudienceFilter, AudienceParams, DPQuery, Template
from privacy.principal import Role
from resolvers.analytics.args import params_from
from resolvers.config import DomainConfig
from tests.conftest import gql
from tests.dp_data import register, seed_audience
from tests.privacy_helpers import sql

PARAMS: AudienceParams = params_from(DomainConfig())
HEAVY = 777_777

# One user, 10,000 extra rows: category rows (all declared categories among them), 10,000
# features, absurd spend, sessions and funnel counters.
HEAVY_USER = [
    """INSERT INTO users (user_id, created_at, country, platform)
       VALUES ($1, now() - interval '300 days', 'US', 'web')""",
    """INSERT INTO consents (user_id, purpose, granted, method, notice_version)
       VALUES ($1, 'analytics.aggregate', true, 'explicit', 1)""",
    """INSERT INTO user_signals (user_id, sessions, first_seen, last_seen, views, add_to_carts, purchases,
                                 total_spend_cents, price_level_counts, distinct_features)
       VALUES ($1::bigint, 1000000, now() - interval '300 days', now(), 10000, 10000, 10000, 10000000000,
               ARRAY[0, 0, 0, 10000], 10000)""",
    """INSERT INTO user_spend_days (user_id, day, cents) VALUES ($1::bigint, current_date, 10000000000)""",
    # Written past the ingestion cap on purpose: the DP bound must not rely on it.
    """INSERT INTO user_features (user_id, feature, uses)
       SELECT $1::bigint, 'feature_' || g, 10000 - g FROM generate_series(1, 9998) g
       UNION ALL VALUES ($1::bigint, 'search', 100000), ($1::bigint, 'wishlist', 100000)""",
    """INSERT INTO user_category_stats (user_id, category, views, add_to_carts, purchases, spend_cents)
       SELECT $1::bigint, c, 1000, 1000, 1000, 100000000
       FROM unnest(ARRAY['apparel', 'beauty', 'electronics', 'groceries', 'restaurants', 'pharmacy']) c
       UNION ALL
       SELECT $1::bigint, 'undeclared_' || g, 1, 1, 1, 100 FROM generate_series(1, 9994) g""",
]

QUERIES = [
    DPQuery(Template.DISTINCT_USERS, Decimal(1)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("COUNTRY",)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("CATEGORY",)),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("CATEGORY", "PLATFORM")),
    DPQuery(Template.USERS_BY, Decimal(1), dimensions=("FEATURE",)),
    DPQuery(Template.ORDER_VALUE_SUM, Decimal(1)),
    DPQuery(Template.ORDER_VALUE_SUM, Decimal(1), AudienceFilter(window="LAST_30_DAYS")),
    DPQuery(Template.HISTOGRAM, Decimal(1), metric="ORDER_VALUE"),
    DPQuery(Template.HISTOGRAM, Decimal(1), metric="SESSIONS"),
    DPQuery(Template.FUNNEL, Decimal(1), dimensions=("COUNTRY",)),
    DPQuery(Template.FUNNEL, Decimal(1), dimensions=("CATEGORY",)),
]


def _values(answer: dict[str, Any]) -> tuple[dict[str, float], int]:
    """Released values by a stable path, and the sensitivity the answer states."""
    out: dict[str, float] = {}
    sens: set[int] = set()

    def walk(x: Any, path: str) -> None:
        if isinstance(x, dict) and "mechanism" in x:
            out[path] = x["value"]
            if x["sensitivity"] is not None:
                sens.add(x["sensitivity"])
        elif isinstance(x, dict):
            label = "/".join(x.get("keys", [])) or str(x.get("key", x.get("lower", "")))
            for k, v in x.items():
                walk(v, f"{path}/{label}/{k}")
        elif isinstance(x, list):
            for v in x:
                walk(v, path)

    walk(answer, "")
    assert len(sens) == 1
    return out, sens.pop()


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    await seed_audience(db_dsn, 1, 400)
    p = await asyncpg.create_pool(db_dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


async def test_ten_thousand_rows_of_one_user_move_each_answer_by_at_most_its_sensitivity(
    pool: asyncpg.Pool,
) -> None:
    before = [await templates.run_without_noise(pool, q, PARAMS) for q in QUERIES]
    for statement in HEAVY_USER:
        await pool.execute(statement, HEAVY)
    assert await pool.fetchval("SELECT count(*) FROM user_category_stats WHERE user_id = $1", HEAVY) == 10_000
    after = [await templates.run_without_noise(pool, q, PARAMS) for q in QUERIES]
    moved = []
    for q, a, b in zip(QUERIES, before, after, strict=True):
        va, sensitivity = _values(a)
        vb, _ = _values(b)
        l1 = sum(abs(vb.get(k, 0.0) - va.get(k, 0.0)) for k in va.keys() | vb.keys())
        assert 0 < l1 <= sensitivity, (q, l1, sensitivity)
        moved.append((q.template.value, q.dimensions, l1, sensitivity))
    # The bound is tight where it should be: the user adds exactly max_groups categories.
    assert ("users_by", ("CATEGORY",), 5.0, 5) in moved
    assert ("order_value_sum", (), 100_000.0, 100_000) in moved


async def test_a_key_held_by_one_user_is_never_released(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO user_features (user_id, feature, uses) VALUES (17, 'only_mine', 50)")
    q = DPQuery(Template.USERS_BY, Decimal(1), dimensions=("FEATURE",))
    single = common = 0
    counts = await templates.users_by_counts(pool, q, PARAMS)  # the SQL once, then 1,000 releases
    assert counts[("only_mine", None)] == 1
    for _ in range(1000):
        keys = {g["keys"][0] for g in templates.users_by_release(counts, q, PARAMS)["groups"]}
        single += "only_mine" in keys
        common += "search" in keys  # held by all 400 users
    # P(single > 0) <= 1000 * delta / max_groups = 2e-5; P(common < 990) is far below 1e-9.
    assert single == 0
    assert common >= 990


async def test_small_counts_exceed_the_truth_sometimes_over_the_api(
    client: httpx.AsyncClient, token: Any, db_dsn: str
) -> None:
    await seed_audience(db_dsn, 1, 5)
    await register(db_dsn, "ana", epsilon_cap=100)
    t = token(Role.ANALYST, "ana")
    values = []
    for _ in range(20):  # a new data version each time, so each answer is a fresh release
        await sql(db_dsn, "UPDATE dataset_versions SET version = version + 1 WHERE dataset = 'audience'")
        body = await gql(
            client, "{ distinctUsers(epsilon: 0.1) { ... on AudienceCount { count { value } } } }", token=t
        )
        values.append(body["data"]["distinctUsers"]["count"]["value"])
    # P(a count > 5) = a / (1 + a) = 0.475 per release; P(none in 20) = 2.6e-6.
    assert max(values) > 5
    assert min(values) >= 0


async def test_noiseless_answers_match_the_data(pool: asyncpg.Pool) -> None:
    # 400 users; user g: country by g % 4 (US when 0), last seen g % 60 days ago, spends
    # (g % 3) * 1500 cents, bought apparel when g is odd.
    async def count(f: AudienceFilter) -> float:
        answer = await templates.run_without_noise(
            pool, DPQuery(Template.DISTINCT_USERS, Decimal(1), f), PARAMS
        )
        return float(answer["count"]["value"])

    assert await count(AudienceFilter()) == 400
    assert await count(AudienceFilter(country="US")) == 100
    assert await count(AudienceFilter(window="LAST_30_DAYS")) == sum(1 for g in range(1, 401) if g % 60 < 30)
    assert await count(AudienceFilter(category="apparel")) == 200
    assert await count(AudienceFilter(country="JP")) == 0
    total = await templates.run_without_noise(pool, DPQuery(Template.ORDER_VALUE_SUM, Decimal(1)), PARAMS)
    assert total["sum"]["value"] == sum((g % 3) * 1500 for g in range(1, 401))


async def test_funnels_are_monotone_and_counts_non_negative(
    client: httpx.AsyncClient, token: Any, db_dsn: str
) -> None:
    await seed_audience(db_dsn, 1, 60)
    await register(db_dsn, "ana")
    doc = """{
      f: funnel(dimension: CATEGORY, epsilon: 0.05) { ... on Funnel { groups {
           viewed { value } addedToCart { value } purchased { value } } } }
      h: histogram(metric: SESSIONS, epsilon: 0.05) { ... on Histogram { bins { count { value ci95Low } } } }
      m: medianOrderValue(epsilon: 0.05) { ... on MedianOrderValue { median { value ci95Low ci95High } } }
    }"""
    data = (await gql(client, doc, token=token(Role.ANALYST, "ana")))["data"]
    for g in data["f"]["groups"]:
        assert g["viewed"]["value"] >= g["addedToCart"]["value"] >= g["purchased"]["value"] >= 0
    assert all(b["count"]["value"] >= 0 and b["count"]["ci95Low"] >= 0 for b in data["h"]["bins"])
    median = data["m"]["median"]
    assert 0 <= median["ci95Low"] <= median["ci95High"] <= 100_000

"""The demo world: deterministic per seed, holding what other tests rely on, with rollups that
agree with the events they summarise (recomputed here in Python, independently of the SQL)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from pydantic import ValidationError

from demo.personas import MIN_EVENTS, PERSONAS, script_events
from demo.seed import DatabaseNotEmpty, SeedConfig, seed_database
from demo.world import CONSENT_PURPOSES, FEATURES
from privacy.purposes import PURPOSES
from sql.queries import load_queries
from tests import pg

Q = load_queries()
ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
SMALL = {"users": 300, "events": 5000}
AFFINITY_WEIGHT = {"view": 1, "click": 2, "add_to_cart": 3, "purchase": 5}


@pytest.fixture
def second_dsn(admin_dsn: str, template_db: str) -> Iterator[str]:
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    yield pg.create_database(admin_dsn, name, template=template_db)
    pg.drop_database(admin_dsn, name)


@pytest.fixture
async def demo(demo_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(demo_dsn)
    yield conn
    await conn.close()


async def fingerprint(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return dict(await conn.fetchrow(Q.seed_fingerprint))
    finally:
        await conn.close()


async def test_same_seed_gives_identical_rows_and_another_seed_does_not(db_dsn: str, second_dsn: str) -> None:
    config = SeedConfig(**SMALL, seed=42, anchor=ANCHOR)
    await seed_database(db_dsn, config, progress=False)
    await seed_database(second_dsn, config, progress=False)
    first = await fingerprint(db_dsn)
    assert all(first.values()), first  # every demo table holds rows
    assert await fingerprint(second_dsn) == first

    await seed_database(second_dsn, SeedConfig(**SMALL, seed=43, anchor=ANCHOR), progress=False, replace=True)
    other = await fingerprint(second_dsn)
    for table in ("users", "consents", "events", "user_signals", "user_category_stats"):
        assert other[table] != first[table], table
    # The catalog itself is fixed; only popularity and editorial picks follow the seed.
    assert other["item_relations"] == first["item_relations"]


async def test_non_empty_database_is_refused_and_replace_reseeds(db_dsn: str) -> None:
    config = SeedConfig(**SMALL, seed=5, anchor=ANCHOR)
    await seed_database(db_dsn, config, progress=False)
    before = await fingerprint(db_dsn)
    with pytest.raises(DatabaseNotEmpty, match="--replace"):
        await seed_database(db_dsn, SeedConfig(**SMALL, seed=6, anchor=ANCHOR), progress=False)
    assert await fingerprint(db_dsn) == before  # nothing half-written

    await seed_database(db_dsn, config, progress=False, replace=True)
    assert await fingerprint(db_dsn) == before

    # The catalog is reference data: a database with items but no users is still "empty".
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(Q.seed_truncate_demo)
    finally:
        await conn.close()
    await seed_database(db_dsn, config, progress=False)
    assert await fingerprint(db_dsn) == before


# Constraints, indexes and triggers of the schema, as the catalog defines them.
SCHEMA = """
SELECT 'constraint' AS kind, c.conrelid::regclass::text AS rel, c.conname AS name,
       pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN '' ELSE ' NOT VALIDATED' END AS def
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = 'public' AND c.conrelid <> 0
UNION ALL
SELECT 'index', i.indrelid::regclass::text, i.indexrelid::regclass::text,
       pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public'
UNION ALL
SELECT 'trigger', t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal
ORDER BY 1, 2, 3
"""


async def test_seeding_leaves_the_schema_as_the_migrations_made_it(db_dsn: str, second_dsn: str) -> None:
    """Seeding drops foreign keys, keys and indexes for the bulk load (seed_defer_checks) and
    puts them back from the catalog's own definitions: the seeded database has exactly the
    migrated one's, validated, and every trigger enabled again."""
    await seed_database(db_dsn, SeedConfig(**SMALL, seed=3, anchor=ANCHOR), progress=False)
    seeded, migrated = await asyncpg.connect(db_dsn), await asyncpg.connect(second_dsn)
    try:
        after = [tuple(r) for r in await seeded.fetch(SCHEMA)]
        assert after == [tuple(r) for r in await migrated.fetch(SCHEMA)]
        assert {k for k, *_ in after} == {"constraint", "index", "trigger"}
        assert any(r[2] == "consents_user_id_fkey" for r in after)
        assert any(r[2] == "consents_analytics_inserted" for r in after)
    finally:
        await seeded.close()
        await migrated.close()


async def test_analytics_consent_flag_agrees_with_the_consents(demo: asyncpg.Connection) -> None:
    """users.analytics_consent is set by seed_insert_users from the generator's masks (the
    trigger is off during the bulk copy): it must say what the consents rows say."""
    rows = await demo.fetch(
        """SELECT u.analytics_consent AS flag, c.granted
           FROM users u LEFT JOIN consents c ON c.user_id = u.user_id AND c.purpose = 'analytics.aggregate'"""
    )
    assert all(r["flag"] == bool(r["granted"]) for r in rows)
    assert {(r["flag"], r["granted"]) for r in rows} == {(True, True), (False, False), (False, None)}


@pytest.mark.parametrize(
    ("field", "value"),
    [("users", 0), ("users", 5_000_001), ("events", -1), ("events", 100_000_001), ("seed", -1)],
)
def test_config_bounds(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        SeedConfig(**{**SMALL, field: value})


async def test_catalog_has_the_relations_and_categories_rules_are_tested_against(
    demo: asyncpg.Connection,
) -> None:
    complements = await demo.fetch(
        """SELECT i.subcategory AS a, r.subcategory AS b FROM item_relations x
           JOIN items i ON i.item_id = x.item_id JOIN items r ON r.item_id = x.related_item_id
           WHERE x.relation = 'complement'"""
    )
    pairs = {(row["a"], row["b"]) for row in complements}
    assert {("coats", "gloves"), ("coats", "scarves"), ("coats", "hats")} <= pairs
    assert {("phones", "phone_cases"), ("phones", "chargers")} <= pairs

    phones = [
        r["item_id"] for r in await demo.fetch("SELECT item_id FROM items WHERE subcategory = 'phones'")
    ]
    substitutes = await demo.fetch(
        "SELECT item_id, related_item_id FROM item_relations WHERE relation = 'substitute'"
    )
    phone_pairs = {(r["item_id"], r["related_item_id"]) for r in substitutes if r["item_id"] in phones}
    assert len(phones) >= 4
    assert phone_pairs == {(a, b) for a in phones for b in phones if a != b}

    cycles = dict(
        await demo.fetch(
            "SELECT DISTINCT subcategory, repurchase_days FROM items WHERE is_consumable ORDER BY 1"
        )
    )
    assert cycles["coffee"] == 14 and cycles["milk"] == 5 and cycles["detergent"] == 30
    sensitive = dict(
        await demo.fetch(
            "SELECT sensitive_topic, count(*) FROM items WHERE sensitive_topic IS NOT NULL GROUP BY 1"
        )
    )
    assert set(sensitive) == {"health", "pregnancy"}
    restaurants = await demo.fetch(
        "SELECT DISTINCT price_level FROM items WHERE kind = 'restaurant' ORDER BY 1"
    )
    assert [r["price_level"] for r in restaurants] == [1, 2, 3, 4]
    ranked = await demo.fetchval("SELECT count(editorial_rank) FROM items")
    assert 0 < ranked < await demo.fetchval("SELECT count(*) FROM items")


async def test_users_span_levels_ages_activity_and_carts(demo: asyncpg.Connection) -> None:
    levels = dict(await demo.fetch("SELECT personalization_level, count(*) FROM users GROUP BY 1"))
    assert set(levels) == {"NONE", "BASIC", "FULL"}
    users = await demo.fetchval("SELECT count(*) FROM users")
    minors = await demo.fetchval("SELECT count(*) FROM users WHERE is_minor")
    assert 0 < minors < users * 0.1
    assert await demo.fetchval("SELECT count(DISTINCT country) FROM users") >= 5
    assert await demo.fetchval("SELECT count(DISTINCT platform) FROM users") == 3

    power = await demo.fetchval(
        """SELECT count(*) FROM user_signals
           WHERE sessions >= 15 AND distinct_features >= 5"""
    )
    newbies = await demo.fetchval(
        """SELECT count(*) FROM users u JOIN user_signals s USING (user_id)
           WHERE u.created_at > now() - interval '15 days' AND s.sessions <= 2"""
    )
    assert power >= 3
    assert newbies >= users * 0.3
    abandoned = await demo.fetchval(
        """SELECT count(*) FROM user_rollups
           WHERE cart <> '{}' AND cart_value_cents > 0 AND cart_updated_at > now() - interval '12 days'"""
    )
    assert abandoned >= 5
    # Old carts are all resolved: nothing sits in a cart for months.
    stale = await demo.fetchval(
        """SELECT count(*) FROM user_rollups
           WHERE cart <> '{}' AND cart_updated_at < now() - interval '30 days'"""
    )
    assert stale == 0

    sensitive_views = await demo.fetchval(
        """SELECT count(*) FROM events e JOIN items i USING (item_id)
           WHERE i.sensitive_topic IS NOT NULL AND e.type = 'view'"""
    )
    assert sensitive_views > 0
    profiled = await demo.fetchval(
        "SELECT count(*) FROM user_rollups WHERE category_affinity ?| ARRAY['pharmacy', 'baby']"
    )
    assert profiled == 0


async def test_consents_have_receipts_with_notice_versions(demo: asyncpg.Connection) -> None:
    rows = await demo.fetch(
        """SELECT c.purpose, c.granted, c.method, c.notice_version, e.receipt_id
           FROM consents c LEFT JOIN consent_events e
             ON e.user_id = c.user_id AND e.purpose = c.purpose AND e.granted = c.granted
            AND e.notice_version = c.notice_version AND e.at = c.updated_at"""
    )
    assert rows and all(r["receipt_id"] is not None for r in rows)
    assert len(rows) == await demo.fetchval("SELECT count(*) FROM consent_events")
    assert {r["method"] for r in rows} == {"explicit"}
    assert all(r["notice_version"] == PURPOSES[r["purpose"]].version for r in rows)
    assert {r["purpose"] for r in rows} == set(CONSENT_PURPOSES)
    states = await demo.fetch(
        """SELECT count(*) FILTER (WHERE granted) AS granted, count(c.purpose) AS answered
           FROM users u LEFT JOIN consents c USING (user_id) GROUP BY u.user_id"""
    )
    shapes = {(r["granted"] == r["answered"] and r["answered"] > 0, r["answered"] == 0) for r in states}
    assert shapes == {(True, False), (False, False), (False, True)}  # all, some, none answered


async def test_events_lie_in_each_users_history_window(demo: asyncpg.Connection) -> None:
    outside = await demo.fetchval(
        """SELECT count(*) FROM events e JOIN users u USING (user_id)
           WHERE e.occurred_at < u.created_at OR e.occurred_at > now()
              OR e.occurred_at < now() - interval '182 days'"""
    )
    assert outside == 0
    assert await demo.fetchval("SELECT count(DISTINCT event_id) FROM events") == 8000


async def test_rollups_agree_with_the_events(demo: asyncpg.Connection) -> None:
    """The rollups, recomputed here from the events by their documented rules: sensitive items
    count nowhere (sessions and features are not item events); the cart sums the quantities
    added and removed since the item was last bought."""
    items = {r["item_id"]: r for r in await demo.fetch("SELECT * FROM items")}
    expected: dict[int, dict[str, Any]] = defaultdict(_empty_signals)
    categories: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    for e in await demo.fetch("SELECT * FROM events ORDER BY user_id, occurred_at"):
        s, kind, item = expected[e["user_id"]], e["type"], items.get(e["item_id"])
        if kind == "session_start":
            s["counts"][kind] += 1
        if kind == "feature_used":
            s["feature_counts"][e["feature"]] += 1
        if item is None or item["sensitive"]:
            continue
        s["counts"][kind] += 1
        if kind in ("purchase", "booking"):
            s["price_level_counts"][item["price_level"] - 1] += 1
        if kind == "purchase":
            s["total_spend_cents"] += e["value"]
            day = e["occurred_at"].astimezone(UTC).strftime("%Y-%m-%d")
            s["spend_by_day"][day] = s["spend_by_day"].get(day, 0) + e["value"]
            s["purchased_items"][str(item["item_id"])] = e["occurred_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        if kind in AFFINITY_WEIGHT:
            s["category_affinity"][item["category"]] += AFFINITY_WEIGHT[kind]
        line = str(item["item_id"])
        if kind in ("add_to_cart", "remove_from_cart"):
            sign = 1 if kind == "add_to_cart" else -1
            s["cart"][line] = s["cart"].get(line, 0) + sign * (e["value"] or 1)
        elif kind == "purchase":
            s["cart"].pop(line, None)
        if kind in ("view", "add_to_cart", "purchase"):
            stats = categories[(e["user_id"], item["category"])]
            stats[kind] += 1
            stats["spend"] += e["value"] if kind == "purchase" else 0
        elif kind == "click":
            categories[(e["user_id"], item["category"])]["click"] += 0  # the row exists
    for s in expected.values():
        s["cart"] = {k: v for k, v in s["cart"].items() if v > 0}

    signals = await demo.fetch("SELECT * FROM user_rollups ORDER BY user_id")
    assert len(signals) == await demo.fetchval("SELECT count(*) FROM users")
    assert sum(1 for row in signals if row["purchases"] > 0) > 20
    for row in signals:
        s = expected[row["user_id"]]
        counts = s["counts"]
        assert row["sessions"] == counts["session_start"]
        assert (row["views"], row["clicks"], row["add_to_carts"]) == (
            counts["view"],
            counts["click"],
            counts["add_to_cart"],
        )
        assert (row["purchases"], row["bookings"]) == (counts["purchase"], counts["booking"])
        assert row["total_spend_cents"] == s["total_spend_cents"]
        assert orjson.loads(row["spend_by_day"]) == s["spend_by_day"]
        assert row["price_level_counts"] == s["price_level_counts"]
        assert orjson.loads(row["feature_counts"]) == dict(s["feature_counts"])
        assert orjson.loads(row["category_affinity"]) == dict(s["category_affinity"])
        assert orjson.loads(row["purchased_items"]) == s["purchased_items"]
        assert orjson.loads(row["cart"]) == s["cart"]
        cart_value = sum(items[int(i)]["price_cents"] * qty for i, qty in s["cart"].items())
        assert row["cart_value_cents"] == cart_value

    stats = await demo.fetch("SELECT * FROM user_category_stats")
    assert len(stats) == len(categories)
    for row in stats:
        c = categories[(row["user_id"], row["category"])]
        assert (row["views"], row["add_to_carts"], row["purchases"], row["spend_cents"]) == (
            c["view"],
            c["add_to_cart"],
            c["purchase"],
            c["spend"],
        )


def _empty_signals() -> dict[str, Any]:
    return {
        "counts": Counter(),
        "total_spend_cents": 0,
        "spend_by_day": {},
        "price_level_counts": [0, 0, 0, 0],
        "feature_counts": Counter(),
        "category_affinity": Counter(),
        "purchased_items": {},
        "cart": {},
    }


def test_default_anchor_is_the_start_of_today() -> None:
    anchor = SeedConfig(**SMALL).anchor_time()
    now = datetime.now(UTC)
    assert anchor <= now < anchor + timedelta(days=1)
    assert (anchor.hour, anchor.minute, anchor.second, anchor.microsecond) == (0, 0, 0, 0)


async def test_personas_have_the_histories_the_docs_promise(demo: asyncpg.Connection) -> None:
    users = {r["user_id"]: r for r in await demo.fetch("SELECT * FROM users WHERE user_id <= 6")}
    signals = {r["user_id"]: r for r in await demo.fetch("SELECT * FROM user_rollups WHERE user_id <= 6")}
    granted = defaultdict(set)
    for r in await demo.fetch("SELECT user_id, purpose FROM consents WHERE granted AND user_id <= 6"):
        granted[r["user_id"]].add(r["purpose"])
    for p in PERSONAS:
        u = users[p.user_id]
        assert (u["personalization_level"], u["is_minor"], u["objected_to_marketing"]) == (
            p.level,
            p.is_minor,
            p.objected,
        )
        assert granted[p.user_id] == set(p.granted or CONSENT_PURPOSES)

    bought = {
        (r["user_id"], r["subcategory"]): r["last_at"]
        for r in await demo.fetch(
            """SELECT e.user_id, i.subcategory, max(e.occurred_at) AS last_at
               FROM events e JOIN items i USING (item_id)
               WHERE e.type = 'purchase' AND e.user_id <= 6 GROUP BY 1, 2"""
        )
    }
    anchor = SeedConfig(**SMALL).anchor_time()
    assert {(1, "coats"), (1, "phones"), (1, "coffee"), (3, "milk"), (4, "phone_cases")} <= set(bought)
    assert timedelta(days=15) < anchor - bought[(1, "coffee")] < timedelta(days=17)  # 14-day cycle: due
    one = signals[1]
    assert len(orjson.loads(one["cart"])) == 2 and one["cart_updated_at"] > anchor - timedelta(days=3)
    assert len(orjson.loads(one["feature_counts"])) == len(FEATURES) and one["sessions"] >= 30
    assert one["bookings"] == 2
    assert signals[2]["sessions"] == 1 and users[2]["created_at"] > anchor - timedelta(days=4)
    assert orjson.loads(signals[4]["cart"])
    assert {(6, "pregnancy"), (6, "vitamins"), (6, "hats")} <= set(bought)
    assert set(orjson.loads(signals[6]["category_affinity"])) == {"apparel"}


async def test_tiny_worlds_skip_the_personas_and_keep_exact_counts(db_dsn: str) -> None:
    assert script_events() < MIN_EVENTS  # the random remainder is never negative
    await seed_database(db_dsn, SeedConfig(users=3, events=50, seed=1, anchor=ANCHOR), progress=False)
    conn = await asyncpg.connect(db_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 3
        assert await conn.fetchval("SELECT count(*) FROM events") == 50
        assert await conn.fetchval("SELECT count(*) FROM user_signals") == 3
    finally:
        await conn.close()

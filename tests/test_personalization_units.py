"""Pure pieces: the rule evaluator's operators, sensitive-value detection, the catalog cache."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.model.reference import CATALOG, ReferenceCache
from resolvers.model.rulebook import diversify
from resolvers.segments.rules import evaluate, validate_rule
from sql import create_pool
from tests.personalization_world import world

ATTRS = {"sessions": 12, "country": "DE", "purchased_category": frozenset({"apparel", "home"})}


def test_operators() -> None:
    cases = [
        ({"attr": "sessions", "op": "gt", "value": 11}, True),
        ({"attr": "sessions", "op": "gte", "value": 12}, True),
        ({"attr": "sessions", "op": "lt", "value": 12}, False),
        ({"attr": "sessions", "op": "lte", "value": 12}, True),
        ({"attr": "sessions", "op": "ne", "value": 12}, False),
        ({"attr": "sessions", "op": "in", "value": [1, 12]}, True),
        ({"attr": "country", "op": "eq", "value": "DE"}, True),
        ({"attr": "country", "op": "in", "value": ["FR", "IT"]}, False),
        ({"attr": "purchased_category", "op": "eq", "value": "home"}, True),
        ({"attr": "purchased_category", "op": "ne", "value": "home"}, False),
        ({"attr": "purchased_category", "op": "in", "value": ["sports", "apparel"]}, True),
        ({"attr": "spend_90d_cents", "op": "gt", "value": 0}, False),  # absent: false
        ({"not": {"attr": "sessions", "op": "gt", "value": 100}}, True),
        (
            {
                "and": [
                    {"attr": "sessions", "op": "gt", "value": 1},
                    {"attr": "country", "op": "eq", "value": "FR"},
                ]
            },
            False,
        ),
        (
            {
                "or": [
                    {"attr": "sessions", "op": "gt", "value": 100},
                    {"attr": "country", "op": "eq", "value": "DE"},
                ]
            },
            True,
        ),
    ]
    for rule, expected in cases:
        assert validate_rule(rule) == [], rule
        passed, conditions = evaluate(rule, ATTRS)
        assert passed is expected, rule
        assert conditions  # every condition is reported
    _, conditions = evaluate(cases[-1][0], ATTRS)
    assert [(c.path, c.passed) for c in conditions] == [("rule.or[0]", False), ("rule.or[1]", True)]


def test_catalog_named_sensitive_values_are_refused() -> None:
    rule = {"attr": "purchased_category", "op": "eq", "value": "devotional"}
    assert validate_rule(rule) == []
    errors = validate_rule(rule, frozenset({"devotional"}))  # a category holding sensitive-topic items
    assert errors and errors[0].field == "rule.value"


async def test_catalog_cache_is_per_pool_with_ttl(db_dsn: str) -> None:
    async with world(db_dsn) as conn:
        pool = await create_pool(db_dsn)
        try:
            cache = ReferenceCache()
            first = await cache.get(pool, CATALOG, ttl_s=60)
            assert len(first.items) == 15 and first.complements[1][0] == (3, 1.0)
            await conn.execute("UPDATE items SET active = false WHERE item_id = 41")
            assert await cache.get(pool, CATALOG, ttl_s=60) is first  # within the TTL: no query, old data
            expiring = ReferenceCache()
            stale = await expiring.get(pool, CATALOG, ttl_s=0)  # expires at once: the next get reloads
            await conn.execute("UPDATE items SET active = true WHERE item_id = 41")
            fresh = await expiring.get(pool, CATALOG, ttl_s=0)
            assert 41 not in stale.items and 41 in fresh.items
            assert "health" in fresh.sensitive_categories
        finally:
            await pool.close()


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from("xyz"), st.sampled_from([None, None, 1, 2, 3])),
        max_size=40,
    ),
    max_per_kind=st.integers(1, 3),
    max_per_source=st.integers(1, 3),
    max_run=st.integers(1, 3),
    limit=st.integers(0, 45),
)
def test_diversify_stops_at_the_page_with_the_same_head(
    entries: list[tuple[str, str, int | None]],
    max_per_kind: int,
    max_per_source: int,
    max_run: int,
    limit: int,
) -> None:
    # The feed asks only for its page: ordering stops there, and the head is what ordering the
    # whole list would have put first.
    ranked = [(*e, i) for i, e in enumerate(entries)]
    rules: dict[str, Any] = {
        "kind_of": lambda e: (e[0], e[1]),
        "source_of": lambda e: e[2],
        "max_per_kind": max_per_kind,
        "max_per_source": max_per_source,
        "max_run": max_run,
    }
    whole = diversify(ranked, **rules)
    assert sorted(whole, key=lambda e: e[3]) == ranked  # reordered, nothing lost
    assert diversify(ranked, limit=limit, **rules) == whole[:limit]

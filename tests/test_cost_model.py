"""The cost model on a small schema with lists and a mutation (the live schema has none yet):
objects 1, scalars 0, lists multiply by their requested size, mutations cost 10 more."""

from __future__ import annotations

import pytest
import strawberry
from graphql import parse

from gateway.cost import COST_CACHE_SIZE, CostCache, operation_cost
from resolvers.common.limits import LimitsConfig


@strawberry.type
class Item:
    id: int

    @strawberry.field
    def tags(self, first: int = 3) -> list[str]:
        return []

    @strawberry.field
    def related(self, limit: int = 5) -> list[Item]:
        return []


@strawberry.type
class Query:
    @strawberry.field
    def feed(self, limit: int | None = None) -> list[Item]:
        return []

    @strawberry.field
    def one(self) -> Item | None:
        return None


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> Item | None:
        return None


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation)._schema
LIMITS = LimitsConfig(default_list_size=10, mutation_cost=10)


def cost(doc: str, variables: dict[str, object] | None = None, name: str | None = None) -> int:
    return operation_cost(SCHEMA, parse(doc), name, variables, LIMITS)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("{ one { id } }", 1),  # an object; scalars are free
        ("{ one { id tags } }", 1),  # a list of scalars costs nothing
        ("{ feed(limit: 20) { id } }", 20),
        ("{ feed { id } }", 10),  # no size argument: default_list_size
        ("{ feed(limit: 2) { related(limit: 3) { id } } }", 2 * (1 + 3)),
        ("{ feed(limit: 2) { ...F } } fragment F on Item { related { id } }", 2 * (1 + 5 * 1)),
        ("{ a: one { id } b: one { id } }", 2),
        ("mutation { touch { id } }", 1 + 10),
        ("mutation { a: touch { id } b: touch { id } }", 2 + 20),
        ("{ __typename one { __typename } }", 1),
    ],
)
def test_cost(doc: str, expected: int) -> None:
    assert cost(doc) == expected


def test_list_size_from_variables() -> None:
    doc = "query Q($n: Int) { feed(limit: $n) { id } }"
    assert cost(doc, {"n": 40}) == 40
    assert cost(doc, {}) == 10  # variable not sent: default size
    assert cost(doc, {"n": -5}) == 1  # negative sizes cannot lower the price below one item


def test_only_the_selected_operation_is_priced() -> None:
    doc = "query Small { one { id } } query Big { feed(limit: 100) { id } }"
    assert cost(doc, name="Small") == 1
    assert cost(doc, name="Big") == 100


class _Ctx:
    """What check_cost reads of Strawberry's execution context."""

    def __init__(self, query: str, variables: dict[str, object] | None, name: str | None = None) -> None:
        self.schema = type("S", (), {"_schema": SCHEMA})()
        self.query, self.variables, self.operation_name = query, variables, name
        self.graphql_document = parse(query)


def test_cost_cache_prices_each_document_and_variables_apart() -> None:
    cache = CostCache()
    doc = "query Q($n: Int) { feed(limit: $n) { id } } query One { one { id } }"
    assert cache.cost(_Ctx(doc, {"n": 40}, "Q"), LIMITS) == 40
    assert cache.cost(_Ctx(doc, {"n": 7}, "Q"), LIMITS) == 7  # other variables: priced again
    assert cache.cost(_Ctx(doc, {"n": 40}, "Q"), LIMITS) == 40
    assert cache.cost(_Ctx(doc, None, "One"), LIMITS) == 1  # other operation of the same text
    # True == 1 as a dict key, not as a variable: the value's type is part of the key
    assert CostCache.key(doc, "Q", {"n": True}) != CostCache.key(doc, "Q", {"n": 1})
    # Only a few scalar variables are keyed; anything else is priced every time.
    assert CostCache.key(doc, "Q", {"n": [1, 2]}) is None
    assert CostCache.key(doc, "Q", {f"v{i}": i for i in range(9)}) is None
    assert CostCache.key(None, "Q", {}) is None


def test_cost_cache_is_bounded() -> None:
    cache = CostCache()
    doc = "query Q($n: Int) { feed(limit: $n) { id } }"
    for n in range(COST_CACHE_SIZE + 50):
        assert cache.cost(_Ctx(doc, {"n": n + 1}, "Q"), LIMITS) == n + 1
    assert len(cache._costs) == COST_CACHE_SIZE

"""Validation cost is bounded before validation runs: documents whose field merging would be
quadratic, or whose fragments multiply, are refused by a cheap walk, on /graphql and in an
analyst's `estimateCost(query:)`. The work is counted, not timed: graphql-core's field-merging
rule compares fields pair by pair (`find_conflict`), and a refused document costs no pair."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql.validation.rules import overlapping_fields_can_be_merged as merging

from privacy.principal import Role
from tests.conftest import gql
from tests.dp_data import register
from tests.test_limits import _client, _settings

QUADRATIC = "{" + " whoami { role }" * 490 + " }"  # the audit's document: fits 2,000 tokens
WIDE = "{" + " whoami { role }" * 200 + " }"  # fewer selections, all on one response key
BOMB = "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(18))
BOMB += " fragment F18 on Query { whoami { role } }"  # 2^18 uses of one field through fragments


@pytest.fixture
def pairs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many field pairs validation compared (the quadratic unit of work)."""
    count = [0]
    original = merging.find_conflict

    def counting(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(merging, "find_conflict", counting)
    yield count


@pytest.mark.parametrize(
    ("document", "limit"),
    [(QUADRATIC, "max_selections"), (WIDE, "max_field_duplicates"), (BOMB, "max_selections")],
)
async def test_quadratic_documents_are_refused_before_validation(
    client: httpx.AsyncClient, pairs: list[int], document: str, limit: str
) -> None:
    body = await gql(client, document)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "DOCUMENT_TOO_COMPLEX", error
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["request_id"]
    assert pairs[0] == 0, f"validation compared {pairs[0]} field pairs of a refused document"


async def test_the_check_itself_does_bounded_work(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers.common import document_limits

    seen: list[int] = []
    original = document_limits.check_shape

    def spy(document: Any, limits: Any) -> Any:
        shape = original(document, limits)
        seen.append(shape.work)
        return shape

    monkeypatch.setattr(document_limits, "check_shape", spy)
    for document in (QUADRATIC, WIDE, BOMB):
        await gql(client, document)
    budget = document_limits.WORK_FACTOR * 500  # max_selections' default
    assert len(seen) == 3 and max(seen) <= budget, seen


async def test_documents_within_the_bounds_still_validate(
    client: httpx.AsyncClient, pairs: list[int]
) -> None:
    # 16 copies of one field repeat it 15 times, and `role` below them 15 times: 30, the limit.
    body = await gql(client, "{" + " whoami { role }" * 16 + " }")
    assert body["data"] == {"whoami": {"role": "anonymous"}}, body
    assert 0 < pairs[0] <= 2 * 16 * 15, pairs  # each pair at most once per direction
    # fragments used several times, and the same field from several fragments
    doc = "query { ...A ...B whoami { role } } fragment A on Query { whoami { role subject } } "
    doc += "fragment B on Query { ...A whoami { subject } }"
    assert (await gql(client, doc))["data"]["whoami"]["role"] == "anonymous"


async def test_estimate_cost_documents_get_the_same_bounds(
    db_dsn: str, tmp_path: Path, token: Any, pairs: list[int]
) -> None:
    await register(db_dsn, "ana")
    analyst = token(Role.ANALYST, "ana")
    estimate = """query($q: String!) { estimateCost(query: $q) {
      __typename ... on InvalidInput { errors { field message } } ... on CostEstimate { aggregates } } }"""
    async for c in _client(_settings(db_dsn, tmp_path)):
        for document in (QUADRATIC, WIDE, BOMB, "{" + " whoami { role }" * 10 + "}" + " " * 70_000):
            body = await gql(c, estimate, {"q": document}, token=analyst)
            result = body["data"]["estimateCost"]
            assert result["__typename"] == "InvalidInput", result
            assert result["errors"][0]["field"] == "query"
        assert pairs[0] == 0
        ok = await gql(c, estimate, {"q": "{ distinctUsers(epsilon: 0.1) { __typename } }"}, token=analyst)
        assert ok["data"]["estimateCost"] == {"__typename": "CostEstimate", "aggregates": 1}

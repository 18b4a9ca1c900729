"""Who may spend privacy budget, and the bound per person (issue 10, finding 3), over HTTP on a
real PostgreSQL.

- An analyst (or marketer) exists only once an admin created them: a token for any other
  subject gets no budget, no answer and no estimate, and leaves nothing in the ledger.
- createAnalyst / analysts / setDatasetBudget / datasetBudgets, with field-level errors.
- One cap per dataset across every analyst and marketer: fresh identities pooled together
  cannot spend past it; an over-cap operation is refused whole and runs no data query.
- Upgrading keeps identities the old default created on record but frozen, unless an admin
  had given them a cap."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import privacy.dp.templates as dp_templates
from privacy.principal import Role
from sql.migrate import MIGRATIONS_DIR, migrate
from tests.conftest import gql
from tests.dp_data import register, seed_audience, set_dataset_cap
from tests.privacy_helpers import sql

COUNT = "distinctUsers(epsilon: $e, filter: $f) { __typename ... on AudienceCount { epsilonCharged }"
EXHAUSTED = "... on BudgetExhausted { scope epsilonRequested epsilonRemaining message } }"
ASK = f"query($e: Float!, $f: AudienceFilterInput) {{ {COUNT} {EXHAUSTED} }}"
CREATE = """mutation($i: CreateAnalystInput!) { createAnalyst(input: $i) { __typename
  ... on Analyst { id name role createdBy budget { cap spent remaining } }
  ... on InvalidInput { message errors { field message } } } }"""
SET_DATASET = """mutation($d: String!, $e: Float!, $x: Float) {
  setDatasetBudget(dataset: $d, epsilonCap: $e, deltaCap: $x) { __typename
    ... on DatasetBudget { dataset epsilonCap epsilonSpent epsilonRemaining deltaCap }
    ... on InvalidInput { errors { field message } } } }"""
COUNTRIES = ["US", "DE", "FR", "GB", "AU", "BR", "CA", "ES", "IT", "JP", "MX", "NL", "PL", "SE", "IN"]


@pytest.fixture
async def audience(db_dsn: str) -> str:
    await seed_audience(db_dsn, 1, 200)
    return db_dsn


# The model trainer (migration 0430) is registered by its migration; these tests are about the
# spenders admins create, so it is left out of what they compare.
NOT_TRAINER = "analyst_id IS DISTINCT FROM 'model:propensity'"


async def _ledger(dsn: str) -> list[tuple[str | None, str, Decimal]]:
    rows = await sql(
        dsn,
        f"SELECT analyst_id, kind, epsilon FROM privacy_events WHERE {NOT_TRAINER} ORDER BY event_id",
    )
    return [(r["analyst_id"], r["kind"], r["epsilon"]) for r in rows]


async def test_an_identity_no_admin_created_gets_nothing(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    stranger = token(Role.ANALYST, "mallory")
    reads = await sql(audience, "SELECT count(*) AS n FROM audit_log")
    for doc, variables in (
        ("{ distinctUsers(epsilon: 0.5) { __typename } }", {}),
        ("{ privacyBudget { cap spent remaining } }", {}),
        ('{ estimateCost(query: "{ distinctUsers(epsilon: 0.5) { __typename } }") { __typename } }', {}),
    ):
        body = await gql(client, doc, variables, token=stranger)
        assert body["data"] is None, body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "analyst 'mallory' is not registered" in error["message"]
    # No budget was opened on the way, nothing charged, nothing read.
    assert await sql(audience, f"SELECT * FROM privacy_budgets WHERE {NOT_TRAINER}") == []
    assert await _ledger(audience) == []
    assert await sql(audience, "SELECT count(*) AS n FROM audit_log") == reads
    # A marketer registration is not an analyst one (one namespace, one role per id).
    await register(audience, "mallory", "marketer")
    body = await gql(client, ASK, {"e": 0.5, "f": None}, token=stranger)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


BAD_INPUTS: list[tuple[dict[str, Any], str, str]] = [
    ({"id": "", "name": "A"}, "input.id", "1 to 64"),
    ({"id": "has space", "name": "A"}, "input.id", "1 to 64"),
    ({"id": "x" * 65, "name": "A"}, "input.id", "1 to 64"),
    ({"id": "ok", "name": "  "}, "input.name", "must not be empty"),
    ({"id": "ok", "name": "n" * 121}, "input.name", "at most 120"),
    ({"id": "ok", "name": "tab\there"}, "input.name", "control characters"),
    ({"id": "ok", "name": "A", "epsilonCap": -1}, "input.epsilonCap", "at least 0"),
    ({"id": "ok", "name": "A", "deltaCap": 1}, "input.deltaCap", "below 1"),
    ({"id": "ok", "name": "A", "deltaCap": -1e-9}, "input.deltaCap", "at least 0"),
]


async def test_admins_create_and_list_analysts_and_marketers(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    admin = token(Role.ADMIN, "ops")
    for value, field, words in BAD_INPUTS:
        result = (await gql(client, CREATE, {"i": value}, token=admin))["data"]["createAnalyst"]
        assert result["__typename"] == "InvalidInput", value
        assert result["message"] == "nobody was registered"
        assert any(e["field"] == field and words in e["message"] for e in result["errors"]), (value, result)
    # a NUL is refused before any resolver, wherever a string enters (docs/limits.md)
    nul = await gql(client, CREATE, {"i": {"id": "nul\x00", "name": "A"}}, token=admin)
    assert nul["data"] is None and nul["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await sql(audience, f"SELECT * FROM analysts WHERE {NOT_TRAINER}") == []
    assert await _ledger(audience) == []
    for role in (Role.ANALYST, Role.MARKETER, Role.USER):
        body = await gql(client, CREATE, {"i": {"id": "x", "name": "X"}}, token=token(role, "7"))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    ana = {"id": "ana", "name": "Ana Analyst", "epsilonCap": 2.5}
    created = (await gql(client, CREATE, {"i": ana}, token=admin))["data"]["createAnalyst"]
    budget = {"cap": "2.5", "spent": "0", "remaining": "2.5"}
    assert created == {"__typename": "Analyst", "id": "ana", "name": "Ana Analyst", "role": "ANALYST",
                       "createdBy": "admin:ops", "budget": budget}  # fmt: skip
    again = (await gql(client, CREATE, {"i": {"id": "ana", "name": "Twin"}}, token=admin))["data"]
    assert again["createAnalyst"]["errors"] == [{"field": "input.id", "message": "already registered"}]
    mark = {"id": "mark", "name": "Mark Eter", "role": "MARKETER"}  # default caps from config
    created = (await gql(client, CREATE, {"i": mark}, token=admin))["data"]["createAnalyst"]
    assert created["role"] == "MARKETER" and created["budget"]["cap"] == "10"
    listed = await gql(client, "{ analysts { id role budget { cap } } }", token=admin)
    assert listed["data"]["analysts"] == [
        {"id": "ana", "role": "ANALYST", "budget": {"cap": "2.5"}},
        {"id": "mark", "role": "MARKETER", "budget": {"cap": "10"}},
        {"id": "model:propensity", "role": "MODEL", "budget": {"cap": "3"}},  # migration 0430
    ]
    # The registered analyst is served, from the budget the admin gave.
    answer = (await gql(client, ASK, {"e": 0.5, "f": None}, token=token(Role.ANALYST, "ana")))["data"]
    assert answer["distinctUsers"]["epsilonCharged"] == "0.5"
    assert await _ledger(audience) == [
        ("ana", "cap_set", Decimal("2.5")),
        ("mark", "cap_set", Decimal("10")),
        ("ana", "charge", Decimal("0.5")),
    ]
    # setPrivacyBudget changes caps of registered spenders only.
    unknown = await gql(
        client,
        'mutation { setPrivacyBudget(analystId: "ghost", dataset: "audience", cap: 5) {'
        " ... on InvalidInput { errors { field message } } } }",
        token=admin,
    )
    assert unknown["data"]["setPrivacyBudget"]["errors"][0]["field"] == "analystId"
    assert await sql(audience, "SELECT * FROM privacy_budgets WHERE analyst_id = 'ghost'") == []


async def test_the_dataset_cap_bounds_every_analyst_together(
    client: httpx.AsyncClient, token: Any, audience: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit pooled ten fresh identities against one person; here three registered analysts,
    each with plenty of budget, share a dataset cap of 1.0: together they get exactly 1.0."""
    admin = token(Role.ADMIN, "ops")
    bad = await gql(client, SET_DATASET, {"d": "audience", "e": -1}, token=admin)
    assert bad["data"]["setDatasetBudget"]["errors"] == [
        {"field": "epsilonCap", "message": "cap must be at least 0"}
    ]
    bad = await gql(client, SET_DATASET, {"d": "nowhere", "e": 1, "x": 2}, token=admin)
    assert {e["field"] for e in bad["data"]["setDatasetBudget"]["errors"]} == {"deltaCap"}
    bad = await gql(client, SET_DATASET, {"d": "nowhere", "e": 1}, token=admin)
    assert bad["data"]["setDatasetBudget"]["errors"] == [{"field": "dataset", "message": "unknown dataset"}]
    done = await gql(client, SET_DATASET, {"d": "audience", "e": 1.0}, token=admin)
    assert done["data"]["setDatasetBudget"] == {
        "__typename": "DatasetBudget", "dataset": "audience", "epsilonCap": "1", "epsilonSpent": "0",
        "epsilonRemaining": "1", "deltaCap": "0.00001"}  # fmt: skip
    for name in ("a1", "a2", "a3"):
        await register(audience, name, epsilon_cap=10)

    runs: list[int] = []
    real_run = dp_templates.run

    async def counting_run(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return await real_run(*args, **kwargs)

    monkeypatch.setattr(dp_templates, "run", counting_run)
    served, refused = 0, []
    for i, country in enumerate(COUNTRIES):  # distinct queries of 0.1, round robin over analysts
        t = token(Role.ANALYST, f"a{1 + i % 3}")
        result = (await gql(client, ASK, {"e": 0.1, "f": {"country": country}}, token=t))["data"][
            "distinctUsers"
        ]
        if result["__typename"] == "AudienceCount":
            served += 1
        else:
            refused.append(result)
    assert served == 10 and len(runs) == 10  # a refused operation ran no template
    assert {r["scope"] for r in refused} == {"DATASET"}
    assert all("across all analysts and marketers" in r["message"] for r in refused)
    assert all(Decimal(r["epsilonRemaining"]) > 0 for r in refused)  # their own budgets were not the limit
    dataset = await sql(audience, "SELECT epsilon_spent, epsilon_cap FROM dataset_budgets")
    assert (dataset[0]["epsilon_spent"], dataset[0]["epsilon_cap"]) == (Decimal("1.0"), Decimal("1"))
    charges = await sql(
        audience, "SELECT sum(dataset_epsilon) AS d FROM privacy_events WHERE kind = 'charge'"
    )
    assert charges[0]["d"] == Decimal("1.0")
    below = await gql(client, SET_DATASET, {"d": "audience", "e": 0.5}, token=admin)
    assert below["data"]["setDatasetBudget"]["errors"] == [
        {"field": "epsilonCap", "message": "below what has already been spent"}
    ]
    listed = await gql(client, "{ datasetBudgets { dataset epsilonSpent epsilonRemaining } }", token=admin)
    assert listed["data"]["datasetBudgets"] == [
        {"dataset": "audience", "epsilonSpent": "1.0", "epsilonRemaining": "0.0"}
    ]
    events = await sql(audience, "SELECT kind, actor FROM privacy_events WHERE analyst_id IS NULL")
    assert [(e["kind"], e["actor"]) for e in events] == [("dataset_cap_set", "admin:ops")]


async def test_an_operation_over_the_dataset_cap_is_refused_whole(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    await register(audience, "ana", epsilon_cap=10)
    await set_dataset_cap(audience, "0.25")
    t = token(Role.ANALYST, "ana")
    doc = """{ a: distinctUsers(epsilon: 0.1) { __typename }
               b: orderValueSum(epsilon: 0.1) { __typename }
               c: histogram(metric: SESSIONS, epsilon: 0.1) { __typename } }"""
    body = await gql(client, doc, token=t)
    assert {v["__typename"] for v in body["data"].values()} == {"BudgetExhausted"}
    assert await _ledger(audience) == []
    assert await sql(audience, "SELECT * FROM dp_answers") == []


def test_upgrade_freezes_identities_no_admin_capped(admin_dsn: str, tmp_path: Path) -> None:
    """Migrate to the last migration before 0130, write ledger rows as the old code did, then
    upgrade: their charges stay accounted (the dataset's spent), only admin-capped ones go on."""
    from tests import pg

    old = tmp_path / "old"
    old.mkdir()
    for f in MIGRATIONS_DIR.glob("*.sql"):
        if int(f.name[:4]) < 130:
            shutil.copy(f, old / f.name)
    name = f"gw_up_{uuid.uuid4().hex[:12]}"
    dsn = pg.create_database(admin_dsn, name)
    try:
        asyncio.run(_upgrade(dsn, old))
    finally:
        pg.drop_database(admin_dsn, name)


async def _upgrade(dsn: str, old: Path) -> None:
    await migrate(dsn, old)
    await sql(
        dsn,
        """INSERT INTO privacy_budgets (analyst_id, dataset, epsilon_cap, epsilon_spent)
           VALUES ('auto', 'audience', 10, 0.7), ('capped', 'audience', 3, 1.2)""",
    )
    await sql(
        dsn,
        """INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon) VALUES
           ('auto', 'audience', 'charge', 0.7), ('capped', 'audience', 'charge', 1.2),
           ('capped', 'audience', 'cap_set', 3)""",
    )
    await migrate(dsn)
    rows = await sql(
        dsn,
        f"SELECT analyst_id, epsilon_cap, epsilon_spent FROM privacy_budgets WHERE {NOT_TRAINER} ORDER BY 1",
    )
    assert [(r["analyst_id"], r["epsilon_cap"], r["epsilon_spent"]) for r in rows] == [
        ("auto", Decimal("0.7"), Decimal("0.7")),  # frozen: no admin ever set its cap
        ("capped", Decimal("3"), Decimal("1.2")),
    ]
    analysts = await sql(
        dsn,
        f"SELECT analyst_id, role, created_by FROM analysts WHERE {NOT_TRAINER} ORDER BY 1",
    )
    assert [tuple(r) for r in analysts] == [
        ("auto", "analyst", "before 0130"),
        ("capped", "analyst", "before 0130"),
    ]
    dataset = await sql(dsn, "SELECT epsilon_cap, epsilon_spent FROM dataset_budgets")
    assert tuple(dataset[0]) == (Decimal("10"), Decimal("1.9"))
    shares = await sql(dsn, "SELECT sum(dataset_epsilon) AS s FROM privacy_events WHERE kind = 'charge'")
    assert shares[0]["s"] == Decimal("1.9")
    frozen = await sql(
        dsn,
        f"SELECT analyst_id, kind, actor FROM privacy_events WHERE actor IS NOT NULL AND {NOT_TRAINER}",
    )
    assert [tuple(r) for r in frozen] == [("auto", "cap_set", "migration 0130")]


async def test_admins_cannot_register_a_model_trainer(
    client: httpx.AsyncClient, token: Any, db_dsn: str
) -> None:
    admin = token(Role.ADMIN, "root")
    body = await gql(client, CREATE, {"i": {"id": "model:x", "name": "x", "role": "MODEL"}}, token=admin)
    refused = body["data"]["createAnalyst"]
    assert refused["__typename"] == "InvalidInput"
    assert [e["field"] for e in refused["errors"]] == ["input.role"]
    assert await sql(db_dsn, "SELECT * FROM analysts WHERE analyst_id = 'model:x'") == []

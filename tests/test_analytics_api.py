"""The analyst API over HTTP on a real database: caching, budget refusal, operation-wide
charging, refused seeds and caps, side channels (issue 5, "Done when" 1, 2, 7, 8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

import privacy.dp.templates as dp_templates
from gateway.settings import Settings
from privacy.dp.query import DPQuery, Template
from privacy.principal import Role
from resolvers.analytics.args import params_from
from resolvers.common.limits import LimitsConfig
from resolvers.config import DomainConfig, DPConfig
from tests.conftest import gql, running_client
from tests.dp_data import register, seed_audience
from tests.privacy_helpers import sql

COUNT = (
    "... on AudienceCount { count { value mechanism noiseScale ci95Low ci95High epsilon sensitivity }"
    " epsilonCharged }"
)
EXHAUSTED = "... on BudgetExhausted { message epsilonRequested epsilonRemaining }"
INVALID = "... on InvalidInput { message errors { field message } }"
SET_CAP = """mutation($a: String!, $c: Float!) {
  setPrivacyBudget(analystId: $a, dataset: "audience", cap: $c) {
    __typename ... on PrivacyBudget { cap spent remaining }
    ... on InvalidInput { errors { field message } } } }"""


@pytest.fixture
async def audience(db_dsn: str) -> str:
    await seed_audience(db_dsn, 1, 300)
    await register(db_dsn, "ana")
    return db_dsn


async def _spent(dsn: str, analyst: str = "ana") -> tuple[Decimal, int]:
    rows = await sql(
        dsn,
        "SELECT coalesce((SELECT epsilon_spent FROM privacy_budgets WHERE analyst_id = $1), 0) AS s, "
        "(SELECT count(*) FROM privacy_events WHERE analyst_id = $1 AND kind = 'charge') AS n",
        analyst,
    )
    return rows[0]["s"], rows[0]["n"]


async def _analytics_reads(dsn: str) -> int:
    rows = await sql(dsn, "SELECT count(*) AS n FROM audit_log WHERE purpose = 'analytics.aggregate'")
    return int(rows[0]["n"])


async def _set_cap(client: httpx.AsyncClient, token: Any, cap: float, analyst: str = "ana") -> dict[str, Any]:
    body = await gql(client, SET_CAP, {"a": analyst, "c": cap}, token=token(Role.ADMIN, "root"))
    return body["data"]["setPrivacyBudget"]


async def test_same_query_reformatted_three_times_is_released_and_charged_once(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    t = token(Role.ANALYST, "ana")
    first = f'{{ distinctUsers(epsilon: 0.3, filter: {{country: "US", platform: WEB}}) {{ {COUNT} }} }}'
    second = f"""
        query   Again {{
          again:   distinctUsers( filter: {{ platform: WEB,
                                            country: "US" }} ,  epsilon: 0.30 ) {{ {COUNT} }}
        }}"""
    third = f"""query($e: Float!, $f: AudienceFilterInput) {{ ...F }}
        fragment F on Query {{ x: distinctUsers(epsilon: $e, filter: $f) {{ {COUNT} }} }}"""
    a = (await gql(client, first, token=t))["data"]["distinctUsers"]
    b = (await gql(client, second, token=t))["data"]["again"]
    c = (await gql(client, third, {"e": 0.3, "f": {"platform": "WEB", "country": "US"}}, token=t))["data"][
        "x"
    ]
    assert a["count"] == b["count"] == c["count"]
    assert (a["epsilonCharged"], b["epsilonCharged"], c["epsilonCharged"]) == ("0.3", "0", "0")
    assert await _spent(audience) == (Decimal("0.3"), 1)


async def test_eleventh_query_over_the_cap_is_refused_without_running_sql(
    client: httpx.AsyncClient, token: Any, audience: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await _set_cap(client, token, 1.0))["cap"] == "1"
    runs: list[str] = []
    real_run = dp_templates.run

    async def counting_run(*args: Any, **kwargs: Any) -> Any:
        runs.append("run")
        return await real_run(*args, **kwargs)

    monkeypatch.setattr(dp_templates, "run", counting_run)
    t = token(Role.ANALYST, "ana")
    countries = ["US", "DE", "FR", "GB", "AU", "BR", "CA", "ES", "IT", "JP", "MX"]
    for i, country in enumerate(countries):
        reads_before = await _analytics_reads(audience)
        flt = f'{{country: "{country}"}}'
        doc = f"{{ distinctUsers(epsilon: 0.1, filter: {flt}) {{ __typename {COUNT} {EXHAUSTED} }} }}"
        result = (await gql(client, doc, token=t))["data"]["distinctUsers"]
        if i < 10:
            assert result["__typename"] == "AudienceCount", i
            assert len(runs) == i + 1
        else:
            assert result["__typename"] == "BudgetExhausted"
            assert Decimal(result["epsilonRemaining"]) == 0
            assert len(runs) == 10  # the template never ran
            assert await _analytics_reads(audience) == reads_before  # and nothing was read
    assert await _spent(audience) == (Decimal("1.0"), 10)  # exact: 10 x 0.1 == 1.0 in Decimal


def _doc_with_20_aliases_and_fragments() -> tuple[str, Decimal, int]:
    fields, total = [], Decimal(0)
    countries = ["US", "DE", "FR", "GB", "AU", "BR", "CA", "ES", "IT", "JP"]
    for i in range(20):
        eps = Decimal("0.01") * (i + 1)
        country = countries[i % 10]
        platform = "WEB" if i < 10 else "IOS"
        fields.append(
            f'a{i}: distinctUsers(epsilon: {eps}, filter: {{country: "{country}", platform: {platform}}}) '
            f"{{ __typename }}"
        )
        total += eps
    fields.append('dup: distinctUsers(epsilon: 0.01, filter: {platform: WEB, country: "US"}) { __typename }')
    fields.append("skipped: orderValueSum(epsilon: 0.9) @skip(if: true) { __typename }")
    fields.append(
        "...Breakdowns ...Breakdowns"
        " ... on Query { inl: histogram(metric: SESSIONS, epsilon: 0.05) { __typename } }"
    )
    fields.append(
        "... @include(if: false) { notRun: funnel(dimension: PLATFORM, epsilon: 0.9) { __typename } }"
    )
    total += Decimal("0.05")  # inline fragment
    total += Decimal("0.07") + Decimal("0.11")  # the fragment, spread twice but executed once
    doc = (
        "query Many {\n  " + "\n  ".join(fields) + "\n}\n"
        "fragment Breakdowns on Query { f1: usersBy(dimensions: [COUNTRY], epsilon: 0.07) { __typename } "
        "f2: medianOrderValue(epsilon: 0.11) { __typename } }"
    )
    return doc, total, 23  # 20 aliases (+1 duplicate, released once) + inline + 2 in the fragment


async def test_aliases_and_fragments_are_charged_for_every_executed_aggregate_or_refused_whole(
    client: httpx.AsyncClient, token: Any, audience: str, settings: Settings
) -> None:
    doc, total, executed = _doc_with_20_aliases_and_fragments()
    t = token(Role.ANALYST, "ana")
    # Public traffic allows 15 aliases: the document is refused whole, before anything is charged.
    refused = await gql(client, doc, token=t)
    assert refused["data"] is None and "aliases" in refused["errors"][0]["message"]
    assert await _spent(audience) == (0, 0)
    # With a limit that admits it, every executed aggregate is charged.
    relaxed = settings.model_copy(
        update={"domain": settings.domain.model_copy(update={"limits": LimitsConfig(max_aliases=40)})}
    )
    async with running_client(relaxed) as client:
        await _charged_for_every_aggregate(client, token, doc, total, executed, audience)


async def _charged_for_every_aggregate(
    client: httpx.AsyncClient, token: Any, doc: str, total: Decimal, executed: int, audience: str
) -> None:
    t = token(Role.ANALYST, "ana")
    estimate = await gql(
        client,
        "query($q: String!) { estimateCost(query: $q) { ... on CostEstimate { epsilon aggregates } } }",
        {"q": doc},
        token=t,
    )
    assert Decimal(estimate["data"]["estimateCost"]["epsilon"]) == total
    body = await gql(client, doc, token=t)
    data = body["data"]
    assert "errors" not in body
    assert "skipped" not in data and "notRun" not in data
    typenames = {k: v["__typename"] for k, v in data.items()}
    assert len(typenames) == executed + 1  # + the duplicate alias
    assert set(typenames.values()) == {"AudienceCount", "AudienceBreakdown", "MedianOrderValue", "Histogram"}
    events = await sql(
        audience, "SELECT epsilon, cardinality(query_hashes) AS n FROM privacy_events WHERE kind = 'charge'"
    )
    assert [(e["epsilon"], e["n"]) for e in events] == [(total, executed)]  # one charge, all of it

    # Refused whole: 0.01 left, a document whose new fields need more. Even the fields already
    # released (the fragments) answer BudgetExhausted: the operation is one unit.
    await _set_cap(client, token, float(total + Decimal("0.01")))
    reads = await _analytics_reads(audience)
    fresh = doc.replace("query Many", "query Fresh")
    fresh = fresh.replace("filter: {country:", "filter: {window: LAST_90_DAYS, country:")
    body = await gql(client, fresh, token=t)
    kinds = {v["__typename"] for v in body["data"].values()}
    assert kinds == {"BudgetExhausted"}
    assert await _spent(audience) == (total, 1)
    assert await _analytics_reads(audience) == reads


@pytest.mark.parametrize("argument", ["seed: 7", "random_state: 7", "randomState: 7"])
async def test_a_seed_is_refused_with_a_clear_error(
    client: httpx.AsyncClient, token: Any, audience: str, argument: str
) -> None:
    body = await gql(
        client,
        f"{{ distinctUsers(epsilon: 0.1, {argument}) {{ __typename }} }}",
        token=token(Role.ANALYST, "ana"),
    )
    assert body.get("data") is None
    assert any(
        "is refused: differentially private noise is drawn from a secure random source" in e["message"]
        for e in body["errors"]
    )
    body = await gql(
        client,
        "query($seed: Int) { distinctUsers(epsilon: 0.1) { __typename } }",
        {"seed": 1},
        token=token(Role.ANALYST, "ana"),
    )
    assert any("'seed' is refused" in e["message"] for e in body["errors"])
    assert await _spent(audience) == (Decimal(0), 0)


@pytest.mark.parametrize(
    ("epsilon", "accepted", "message"),
    [
        (1.0, True, None),
        (1.0000001, False, "epsilon must be at most 1.0 (the per-query cap)"),
        (0, False, "epsilon must be greater than 0"),
        (-0.5, False, "epsilon must be greater than 0"),
        (1e-9, True, None),
        (1e-10, False, "epsilon has more than 9 decimal places"),
    ],
)
async def test_epsilon_boundaries_over_the_api(
    client: httpx.AsyncClient, token: Any, audience: str, epsilon: float, accepted: bool, message: str | None
) -> None:
    doc = f"query($e: Float!) {{ distinctUsers(epsilon: $e) {{ __typename {COUNT} {INVALID} }} }}"
    result = (await gql(client, doc, {"e": epsilon}, token=token(Role.ANALYST, "ana")))["data"][
        "distinctUsers"
    ]
    if accepted:
        assert result["__typename"] == "AudienceCount"
        assert await _spent(audience) == (Decimal(repr(epsilon)), 1)
    else:
        assert result == {"__typename": "InvalidInput", "message": "the analytics request was not accepted",
                          "errors": [{"field": "epsilon", "message": message}]}  # fmt: skip
        assert await _spent(audience) == (Decimal(0), 0)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_epsilon_is_refused(
    client: httpx.AsyncClient, token: Any, audience: str, raw: str
) -> None:
    doc = "query($e: Float!) { distinctUsers(epsilon: $e) { __typename } }"
    response = await client.post(
        "/graphql",
        content='{"query": "' + doc.replace('"', '\\"') + '", "variables": {"e": ' + raw + "}}",
        headers={"Authorization": f"Bearer {token(Role.ANALYST, 'ana')}", "Content-Type": "application/json"},
    )
    body = response.json()
    assert body.get("data") is None and body["errors"]
    assert await _spent(audience) == (Decimal(0), 0)


async def test_empty_and_one_user_groups_answer_alike(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    await seed_audience(audience, 1001, 1001)  # then move the one user to a country nobody else is in
    await sql(audience, "UPDATE users SET country = 'SE' WHERE user_id = 1001")
    t = token(Role.ANALYST, "ana")

    def shape(x: Any) -> Any:
        return {k: shape(v) for k, v in x.items()} if isinstance(x, dict) else type(x).__name__

    doc = '{ distinctUsers(epsilon: 0.5, filter: {country: "%s"}) { __typename %s } }'
    empty = await gql(client, doc % ("JP", COUNT), token=t)
    single = await gql(client, doc % ("SE", COUNT), token=t)
    assert "errors" not in empty and "errors" not in single
    assert shape(empty) == shape(single)
    a, b = empty["data"]["distinctUsers"]["count"], single["data"]["distinctUsers"]["count"]
    assert (a["noiseScale"], a["ci95High"] - a["value"]) == (b["noiseScale"], b["ci95High"] - b["value"])


async def test_reported_sensitivities_and_costs(client: httpx.AsyncClient, token: Any, audience: str) -> None:
    t = token(Role.ANALYST, "ana")
    doc = """{
      c: distinctUsers(epsilon: 0.5) { ... on AudienceCount { count { sensitivity noiseScale epsilon } } }
      k: usersBy(dimensions: [CATEGORY, PLATFORM], epsilon: 0.5) {
        ... on AudienceBreakdown { groups { count { sensitivity } } threshold } }
      s: orderValueSum(epsilon: 0.5) { ... on OrderValueSum { sum { sensitivity noiseScale } } }
      m: orderValueMean(epsilon: 0.5) {
        ... on OrderValueMean { sum { epsilon } count { epsilon sensitivity } mean { epsilon } } }
      f: funnel(dimension: CATEGORY, epsilon: 0.3) { ... on Funnel { groups { viewed { sensitivity } } } }
      h: histogram(metric: ORDER_VALUE, epsilon: 0.25) {
        ... on Histogram { bins { lower count { sensitivity noiseScale } } } }
      privacyBudget { cap spent remaining }
    }"""
    data = (await gql(client, doc, token=t))["data"]
    assert data["c"]["count"] == {"sensitivity": 1, "noiseScale": 2.0, "epsilon": "0.5"}
    assert {g["count"]["sensitivity"] for g in data["k"]["groups"]} == {5}  # 5 categories x 1 platform
    # public keys (declared categories x platforms), all released
    assert len(data["k"]["groups"]) == len(DPConfig().categories) * 4 and data["k"]["threshold"] is None
    assert data["s"]["sum"] == {"sensitivity": 100_000, "noiseScale": 200_000.0}
    assert data["m"]["sum"]["epsilon"] == data["m"]["count"]["epsilon"] == "0.25"
    assert data["m"]["mean"]["epsilon"] == "0.5"
    assert {g["viewed"]["sensitivity"] for g in data["f"]["groups"]} == {15}
    assert [b["lower"] for b in data["h"]["bins"]] == [0, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000]
    assert {b["count"]["noiseScale"] for b in data["h"]["bins"]} == {4.0}
    assert data["privacyBudget"] == {"cap": "10", "spent": "2.55", "remaining": "7.45"}


async def test_estimate_is_free_and_cache_hits_cost_nothing(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    t = token(Role.ANALYST, "ana")
    doc = (
        "{ a: distinctUsers(epsilon: 0.1) { __typename }"
        " b: funnel(dimension: PLATFORM, epsilon: 0.2) { __typename } }"
    )
    est = (
        "query($q: String!) { estimateCost(query: $q) {"
        " ... on CostEstimate { epsilon delta aggregates alreadyPaid } } }"
    )
    assert (await gql(client, est, {"q": doc}, token=t))["data"]["estimateCost"] == {
        "epsilon": "0.3", "delta": "0", "aggregates": 2, "alreadyPaid": 0}  # fmt: skip
    assert await _spent(audience) == (Decimal(0), 0)
    await gql(client, doc, token=t)
    assert (await gql(client, est, {"q": doc}, token=t))["data"]["estimateCost"] == {
        "epsilon": "0", "delta": "0", "aggregates": 2, "alreadyPaid": 2}  # fmt: skip
    feature = "{ usersBy(dimensions: [FEATURE], epsilon: 0.4) { __typename } }"
    assert (await gql(client, est, {"q": feature}, token=t))["data"]["estimateCost"]["delta"] == "1E-7"
    assert await _spent(audience) == (Decimal("0.3"), 1)


async def test_budget_admin(client: httpx.AsyncClient, token: Any, audience: str) -> None:
    assert (await _set_cap(client, token, -1))["errors"] == [
        {"field": "cap", "message": "cap must be at least 0"}
    ]
    await gql(client, "{ distinctUsers(epsilon: 0.5) { __typename } }", token=token(Role.ANALYST, "ana"))
    refused = await _set_cap(client, token, 0.4)
    assert refused["errors"] == [{"field": "cap", "message": "below what the analyst already spent"}]
    assert await _set_cap(client, token, 0.5) == {
        "__typename": "PrivacyBudget",
        "cap": "0.5",
        "spent": "0.5",
        "remaining": "0.0",
    }
    body = await gql(client, SET_CAP, {"a": "ana", "c": 3.0}, token=token(Role.ANALYST, "ana"))
    assert body["errors"][0]["message"] == "requires role admin"
    events = await sql(
        audience, "SELECT kind, epsilon FROM privacy_events WHERE analyst_id = 'ana' ORDER BY event_id"
    )
    assert [(e["kind"], e["epsilon"]) for e in events] == [
        ("charge", Decimal("0.5")),
        ("cap_set", Decimal("0.5")),
    ]


async def test_a_cap_has_a_documented_maximum(client: httpx.AsyncClient, token: Any, db_dsn: str) -> None:
    await register(db_dsn, "ana", epsilon_cap=10)
    for cap, message in [
        (1e308, "cap must be at most 100"),
        (100.000001, "cap must be at most 100"),
        (1e-10, "cap has more than 9 decimal places"),
    ]:
        assert (await _set_cap(client, token, cap))["errors"] == [{"field": "cap", "message": message}]
    caps = await sql(db_dsn, "SELECT epsilon_cap FROM privacy_budgets WHERE analyst_id = 'ana'")
    assert [r["epsilon_cap"] for r in caps] == [Decimal(10)]  # unchanged
    assert (await _set_cap(client, token, 100))["cap"] == "100"


async def test_only_analysts_and_only_consenting_users(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    body = await gql(client, "{ distinctUsers(epsilon: 0.1) { __typename } }", token=token(Role.USER, "1"))
    assert body["errors"][0]["message"] == "requires role analyst"
    await seed_audience(audience, 5001, 5400, consent=False)
    pool = await asyncpg.create_pool(audience, min_size=1, max_size=1)
    try:
        query = DPQuery(Template.DISTINCT_USERS, Decimal("0.1"))
        noiseless = await dp_templates.run_without_noise(pool, query, params_from(DomainConfig()))
    finally:
        await pool.close()
    assert noiseless["count"]["value"] == 300.0  # the 400 users without analytics consent are not counted

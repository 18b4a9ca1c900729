"""Two real server processes race for one analyst's budget ("Done when" 3): 50 concurrent,
distinct queries of 0.1 against a cap of 1.0 give exactly 10 releases, 20 times over, and the
ledger never exceeds its cap. The same holds for the dataset's cap across several analysts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from gateway.auth import issue_token
from gateway.settings import Environment, Settings
from privacy.principal import Role
from tests import pg
from tests.conftest import TEST_SECRET
from tests.dp_data import register, seed_audience, set_dataset_cap
from tests.outage import gateway_process

COUNTRIES = [
    "US",
    "DE",
    "FR",
    "GB",
    "AU",
    "BR",
    "CA",
    "ES",
    "IT",
    "JP",
    "MX",
    "NL",
    "PL",
    "SE",
    "IN",
    "OTHER",
]
PLATFORMS = ["WEB", "IOS", "ANDROID", None]  # None: any platform
DOC = (
    "query($f: AudienceFilterInput) { distinctUsers(epsilon: 0.1, filter: $f) {"
    " __typename ... on BudgetExhausted { epsilonRemaining } } }"
)


@pytest.fixture(scope="module")
def two_servers(
    admin_dsn: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[str], str]]:
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    dsn = pg.create_database(admin_dsn, name, template=template_db)
    asyncio.run(seed_audience(dsn, 1, 200))
    env = {
        "DATABASE_URL": dsn,
        "GATEWAY_JWT_SECRET": TEST_SECRET,
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_DATA_DIR": str(tmp_path_factory.mktemp("srv")),
    }
    try:
        with gateway_process(env) as (first, _), gateway_process(env) as (second, _):
            yield [first, second], dsn
    finally:
        pg.drop_database(admin_dsn, name)


def _token(analyst: str = "ana") -> str:
    settings = Settings(
        environment=Environment.TEST, jwt_secret=SecretStr(TEST_SECRET), database_url=SecretStr("x")
    )
    return issue_token(settings, Role.ANALYST, analyst, ttl_s=600)


async def test_fifty_concurrent_queries_across_two_processes_get_exactly_ten(
    two_servers: tuple[list[str], str],
) -> None:
    urls, dsn = two_servers
    headers = {"Authorization": f"Bearer {_token()}"}
    filters = [{"country": c, "platform": p} for c in COUNTRIES for p in PLATFORMS][:50]
    db = await asyncpg.connect(dsn)
    await register(dsn, "ana", epsilon_cap="1.0")
    await set_dataset_cap(dsn, 1000)
    limits = httpx.Limits(max_connections=100)
    try:
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def ask(i: int) -> str:
                body = {"query": DOC, "variables": {"f": filters[i]}}
                r = await client.post(f"{urls[i % 2]}/graphql", json=body, headers=headers)
                return str(r.json()["data"]["distinctUsers"]["__typename"])

            for repeat in range(20):
                # A fresh data version, so no answer is cached, and a fresh budget.
                await db.execute(
                    "UPDATE dataset_versions SET version = version + 1 WHERE dataset = 'audience'"
                )
                await db.execute("UPDATE privacy_budgets SET epsilon_spent = 0, delta_spent = 0")
                first_event = await db.fetchval("SELECT coalesce(max(event_id), 0) FROM privacy_events")
                kinds = await asyncio.gather(*(ask(i) for i in range(50)))
                assert kinds.count("AudienceCount") == 10, (repeat, kinds)
                assert kinds.count("BudgetExhausted") == 40
                spent, cap = await db.fetchrow(
                    "SELECT epsilon_spent, epsilon_cap FROM privacy_budgets b"
                    " JOIN analysts a USING (analyst_id) WHERE a.role = 'analyst'"
                )
                assert spent == cap == Decimal("1.0")
                charged = await db.fetch(
                    "SELECT epsilon FROM privacy_events WHERE event_id > $1 AND kind = 'charge'", first_event
                )
                assert [r["epsilon"] for r in charged] == [Decimal("0.1")] * 10
    finally:
        await db.close()


async def test_the_dataset_cap_holds_across_analysts_and_processes(
    two_servers: tuple[list[str], str],
) -> None:
    """Five analysts with ample budgets race 50 distinct queries of 0.1 through two processes
    against a dataset cap of 1.0 (the bound per person): exactly 10 releases, 10 times over."""
    urls, dsn = two_servers
    analysts = [f"pool{i}" for i in range(5)]
    for a in analysts:
        await register(dsn, a, epsilon_cap=100)
    headers = {a: {"Authorization": f"Bearer {_token(a)}"} for a in analysts}
    filters = [{"country": c, "platform": p} for c in COUNTRIES for p in PLATFORMS][:50]
    db = await asyncpg.connect(dsn)
    try:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), timeout=30) as client:

            async def ask(i: int) -> str:
                body = {"query": DOC, "variables": {"f": filters[i]}}
                r = await client.post(f"{urls[i % 2]}/graphql", json=body, headers=headers[analysts[i % 5]])
                return str(r.json()["data"]["distinctUsers"]["__typename"])

            for repeat in range(10):
                await db.execute(
                    "UPDATE dataset_versions SET version = version + 1 WHERE dataset = 'audience'"
                )
                await db.execute("UPDATE privacy_budgets SET epsilon_spent = 0, delta_spent = 0")
                await db.execute(
                    "UPDATE dataset_budgets SET epsilon_cap = 1.0, epsilon_spent = 0, delta_spent = 0"
                )
                first_event = await db.fetchval("SELECT coalesce(max(event_id), 0) FROM privacy_events")
                kinds = await asyncio.gather(*(ask(i) for i in range(50)))
                assert kinds.count("AudienceCount") == 10, (repeat, kinds)
                assert await db.fetchval("SELECT epsilon_spent FROM dataset_budgets") == Decimal("1.0")
                charged = await db.fetch(
                    "SELECT dataset_epsilon FROM privacy_events WHERE event_id > $1 AND kind = 'charge'",
                    first_event,
                )
                assert [r["dataset_epsilon"] for r in charged] == [Decimal("0.1")] * 10
    finally:
        await db.close()

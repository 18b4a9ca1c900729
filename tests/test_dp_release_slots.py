"""No free bits (issue 10, finding 4), over HTTP on a real PostgreSQL.

- What an analyst can observe of the answer cache (estimateCost, epsilonCharged, refusals of
  their own budget) depends only on their own history and the clock: an answer someone else
  released costs them as much as a fresh one, and a segment refresh that changes membership
  changes neither the data version nor anything cached.
- Answers are reused within one release period, never across periods.
- A release that fails after the charge (diffprivlib's sampler hitting its one-in-2^53 input,
  a statement timeout) refunds that release's share with an append-only `refund` event before
  a clear `ReleaseFailed` is returned; refunds never exceed the charge nor cover a stored answer."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from privacy.dp import cache, ledger
from privacy.dp.config import DPConfig
from privacy.principal import Role
from privacy.purposes import PURPOSES
from resolvers.config import DomainConfig
from tests.conftest import gql, make_settings, running_client
from tests.dp_data import register, seed_audience
from tests.privacy_helpers import sql

VALUE = "count { value } epsilonCharged"
Q = f"{{ distinctUsers(epsilon: 0.4) {{ __typename ... on AudienceCount {{ {VALUE} }} }} }}"
ESTIMATE = "query($q: String!) { estimateCost(query: $q) { ... on CostEstimate { epsilon aggregates } } }"
PAID = "query($q: String!) { estimateCost(query: $q) { ... on CostEstimate { alreadyPaid } } }"
FAILED = "... on ReleaseFailed { message epsilonRefunded retryable }"


@pytest.fixture
async def audience(db_dsn: str) -> str:
    await seed_audience(db_dsn, 1, 200)
    for name in ("ana", "bob"):
        await register(db_dsn, name)
    await register(db_dsn, "cat", epsilon_cap="0.1")
    return db_dsn


async def _spent(dsn: str) -> dict[str, Decimal]:
    # The analysts' and marketers' budgets (the model trainer of migration 0430 spends nothing here).
    rows = await sql(
        dsn,
        "SELECT b.analyst_id AS who, b.epsilon_spent FROM privacy_budgets b"
        " JOIN analysts a USING (analyst_id) WHERE a.role <> 'model'"
        " UNION ALL SELECT '*', epsilon_spent FROM dataset_budgets",
    )
    return {r["who"]: r["epsilon_spent"] for r in rows}


async def _estimate(client: httpx.AsyncClient, t: str, doc: str) -> dict[str, Any]:
    body = await gql(client, ESTIMATE, {"q": doc}, token=t)
    result: dict[str, Any] = body["data"]["estimateCost"]
    return result


async def _already_paid(client: httpx.AsyncClient, t: str, doc: str) -> int:
    body = await gql(client, PAID, {"q": doc}, token=t)
    return int(body["data"]["estimateCost"]["alreadyPaid"])


async def test_what_others_released_is_not_visible_for_free(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    ana, bob, cat = (token(Role.ANALYST, n) for n in ("ana", "bob", "cat"))
    first = (await gql(client, Q, token=ana))["data"]["distinctUsers"]
    assert first["epsilonCharged"] == "0.4"
    # Bob's estimate is what a fresh release would cost him: it does not show Ana's release.
    assert await _estimate(client, bob, Q) == {"epsilon": "0.4", "aggregates": 1}
    # Ana's own repeat is free, and her estimate says so (her own history).
    assert await _estimate(client, ana, Q) == {"epsilon": "0", "aggregates": 1}
    assert (await _already_paid(client, ana, Q), await _already_paid(client, bob, Q)) == (1, 0)
    # Bob pays as for a fresh release and gets the one released answer (averaging gains nothing);
    # the dataset's cap is charged once, for the one release.
    second = (await gql(client, Q, token=bob))["data"]["distinctUsers"]
    assert second == first
    again = (await gql(client, Q, token=bob))["data"]["distinctUsers"]
    assert again == {**first, "epsilonCharged": "0"}
    assert await _spent(audience) == {
        "ana": Decimal("0.4"),
        "bob": Decimal("0.4"),
        "cat": 0,
        "*": Decimal("0.4"),
    }
    # Cat's own budget refuses the answer even though it is on record.
    refused = await gql(client, "{ distinctUsers(epsilon: 0.4) { __typename } }", token=cat)
    assert refused["data"]["distinctUsers"]["__typename"] == "BudgetExhausted"
    assert len(await sql(audience, "SELECT * FROM dp_answers")) == 1


@pytest.fixture
async def segmented(audience: str) -> str:
    """The audience also allows offers and derived data, so segment membership is stored."""
    await sql(audience, "UPDATE users SET personalization_level = 'FULL'")
    await sql(
        audience,
        """INSERT INTO consents (user_id, purpose, granted, method, notice_version)
           SELECT user_id, 'marketing.offers', true, 'explicit', $1 FROM users""",
        PURPOSES["marketing.offers"].version,
    )
    return audience


async def test_a_membership_change_changes_neither_the_data_version_nor_the_cache(
    client: httpx.AsyncClient, token: Any, segmented: str
) -> None:
    marketer = token(Role.MARKETER, "m1")
    rule = {"attr": "sessions", "op": "gte", "value": 20}
    made = await gql(
        client, 'mutation($r: JSON!) { createSegment(name: "active", rule: $r) { __typename } }', {"r": rule},
        token=marketer,
    )  # fmt: skip
    assert made["data"]["createSegment"]["__typename"] == "Segment"
    by_segment = "{ usersBy(dimensions: [SEGMENT], epsilon: 0.5) { ... on AudienceBreakdown { groups { count { value } } epsilonCharged } } }"  # noqa: E501
    ana, bob = token(Role.ANALYST, "ana"), token(Role.ANALYST, "bob")
    released = (await gql(client, by_segment, token=ana))["data"]["usersBy"]
    assert released["epsilonCharged"] == "0.5"
    version = await sql(segmented, "SELECT version FROM dataset_versions")
    members = await sql(segmented, "SELECT count(*) AS n FROM segment_members")
    # One member leaves (withdraws marketing consent) and the refresh removes their row.
    leaver = await sql(segmented, "SELECT min(user_id) AS u FROM segment_members")
    await sql(
        segmented,
        "UPDATE consents SET granted = false WHERE user_id = $1 AND purpose = 'marketing.offers'",
        leaver[0]["u"],
    )
    await gql(client, "mutation { refreshSegmentMembership { __typename } }", token=marketer)
    after = await sql(segmented, "SELECT count(*) AS n FROM segment_members")
    assert after[0]["n"] == members[0]["n"] - 1  # membership did change ...
    assert await sql(segmented, "SELECT version FROM dataset_versions") == version  # ... the version did not
    # ... and the cache looks exactly as before to everyone: Ana's repeat is still free and the
    # same, Bob still pays full price.
    assert await _estimate(client, ana, by_segment) == {"epsilon": "0", "aggregates": 1}
    assert await _estimate(client, bob, by_segment) == {"epsilon": "0.5", "aggregates": 1}
    repeat = (await gql(client, by_segment, token=ana))["data"]["usersBy"]
    assert repeat == {**released, "epsilonCharged": "0"}


@pytest.fixture
async def one_second_periods(audience: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    domain = DomainConfig(dp=DPConfig(release_period_s=1))
    async with running_client(make_settings(audience, tmp_path / "data", domain=domain)) as c:
        yield c


async def test_answers_are_reused_within_a_release_period_only(
    one_second_periods: httpx.AsyncClient, token: Any, audience: str
) -> None:
    client, ana = one_second_periods, token(Role.ANALYST, "ana")
    first = (await gql(client, Q, token=ana))["data"]["distinctUsers"]
    epoch = (await sql(audience, "SELECT epoch FROM dp_answers"))[0]["epoch"]
    await asyncio.sleep(1.05)  # at least one whole period: the epoch (clock / 1 s) has moved on
    assert await _estimate(client, ana, Q) == {"epsilon": "0.4", "aggregates": 1}
    second = (await gql(client, Q, token=ana))["data"]["distinctUsers"]
    assert (first["epsilonCharged"], second["epsilonCharged"]) == ("0.4", "0.4")
    epochs = [r["epoch"] for r in await sql(audience, "SELECT epoch FROM dp_answers ORDER BY epoch")]
    assert len(epochs) == 2 and epochs[0] == epoch < epochs[1]


def _sampler_fault(times: int | None) -> Any:
    """diffprivlib's Geometric turns a uniform draw of exactly 0.5 into log(0) and then fails
    converting infinity to an integer (OverflowError): one input in 2^53. Make the secure source
    return it `times` times (None: always), then behave normally."""
    real = secrets.SystemRandom.random
    left = [times]

    def draw(self: secrets.SystemRandom) -> float:
        if left[0] is None or left[0] > 0:
            if left[0] is not None:
                left[0] -= 1
            return 0.5
        return real(self)

    return draw


async def _ledger(dsn: str) -> list[tuple[str, str, Decimal, Decimal, int | None]]:
    rows = await sql(
        dsn,
        "SELECT analyst_id, kind, epsilon, dataset_epsilon, refund_of FROM privacy_events"
        " WHERE kind IN ('charge', 'refund') ORDER BY event_id",
    )
    return [(r["analyst_id"], r["kind"], r["epsilon"], r["dataset_epsilon"], r["refund_of"]) for r in rows]


async def test_a_sampler_failure_after_the_charge_is_refunded(
    client: httpx.AsyncClient, token: Any, audience: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = token(Role.ANALYST, "ana")
    monkeypatch.setattr(secrets.SystemRandom, "random", _sampler_fault(None))
    body = await gql(client, "{ distinctUsers(epsilon: 0.4) { __typename } }", token=ana)
    assert "errors" not in body, body  # not a 500 nor a masked error: a clear, typed outcome
    assert body["data"]["distinctUsers"]["__typename"] == "ReleaseFailed"
    assert await _spent(audience) == {"ana": 0, "bob": 0, "cat": 0, "*": 0}
    (charge, refund) = await _ledger(audience)
    assert charge[1:4] == ("charge", Decimal("0.4"), Decimal("0.4"))
    assert refund[1:] == ("refund", Decimal("0.4"), Decimal("0.4"), (await _charge_ids(audience))[0])
    assert await sql(audience, "SELECT * FROM dp_answers") == []  # nothing was released ...
    assert await sql(audience, "SELECT * FROM dp_answer_receipts") == []  # ... nor paid for
    doc = f"{{ distinctUsers(epsilon: 0.4) {{ __typename ... on AudienceCount {{ {VALUE} }} {FAILED} }} }}"
    failed = (await gql(client, doc, token=ana))["data"]["distinctUsers"]
    assert failed == {
        "__typename": "ReleaseFailed",
        "message": "the release failed before anything was returned; its charge was refunded."
        " Retry the query.",
        "epsilonRefunded": "0.4",
        "retryable": True,
    }
    monkeypatch.undo()
    again = (await gql(client, doc, token=ana))["data"]["distinctUsers"]
    assert again["__typename"] == "AudienceCount" and again["epsilonCharged"] == "0.4"
    assert await _spent(audience) == {"ana": Decimal("0.4"), "bob": 0, "cat": 0, "*": Decimal("0.4")}


async def _charge_ids(dsn: str) -> list[int]:
    return [
        r["event_id"] for r in await sql(dsn, "SELECT event_id FROM privacy_events WHERE kind = 'charge'")
    ]


async def test_one_failed_field_is_refunded_and_the_others_are_released(
    client: httpx.AsyncClient, token: Any, audience: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = "__typename ... on AudienceCount { epsilonCharged }"
    b = "__typename ... on OrderValueSum { epsilonCharged }"
    doc = f"""{{ a: distinctUsers(epsilon: 0.1) {{ {a} {FAILED} }}
                b: orderValueSum(epsilon: 0.2) {{ {b} {FAILED} }} }}"""
    monkeypatch.setattr(secrets.SystemRandom, "random", _sampler_fault(1))
    data = (await gql(client, doc, token=token(Role.ANALYST, "ana")))["data"]
    kinds = sorted(v["__typename"] for v in data.values())
    assert kinds[0] != kinds[1] and "ReleaseFailed" in kinds, data
    eps = {"a": Decimal("0.1"), "b": Decimal("0.2")}
    (lost,) = [k for k, v in data.items() if v["__typename"] == "ReleaseFailed"]
    (kept,) = [k for k in data if k != lost]
    assert Decimal(data[lost]["epsilonRefunded"]) == eps[lost]
    assert Decimal(data[kept]["epsilonCharged"]) == eps[kept]
    spent = await _spent(audience)
    assert (spent["ana"], spent["*"]) == (eps[kept], eps[kept])
    rows = await _ledger(audience)
    assert [(r[1], r[2]) for r in rows] == [("charge", Decimal("0.3")), ("refund", eps[lost])]
    assert len(await sql(audience, "SELECT * FROM dp_answers")) == 1


async def test_a_statement_timeout_after_the_charge_is_refunded(
    audience: str, token: Any, tmp_path: Path
) -> None:
    """A real database failure: the template waits on a lock until statement_timeout cancels it."""
    settings = make_settings(audience, tmp_path / "data", statement_timeout_ms=300)
    doc = "{ histogram(metric: SESSIONS, epsilon: 0.3) { __typename } }"
    async with running_client(settings) as client:
        holder = await asyncpg.connect(audience)
        try:
            lock = holder.transaction()
            await lock.start()
            await holder.execute("LOCK TABLE user_signals IN ACCESS EXCLUSIVE MODE")
            body = await gql(client, doc, token=token(Role.ANALYST, "ana"))
            await lock.rollback()
        finally:
            await holder.close()
        assert "errors" not in body, body
        assert body["data"]["histogram"] == {"__typename": "ReleaseFailed"}
        assert await _spent(audience) == {"ana": 0, "bob": 0, "cat": 0, "*": 0}
        assert [r[1] for r in await _ledger(audience)] == ["charge", "refund"]
        retried = await gql(client, doc, token=token(Role.ANALYST, "ana"))  # the lock is gone
        assert retried["data"]["histogram"]["__typename"] == "Histogram"


async def test_refunds_never_exceed_the_charge_nor_cover_a_stored_release(audience: str) -> None:
    pool = await asyncpg.create_pool(audience, min_size=1, max_size=2)
    assert pool is not None
    try:
        ana = ledger.Spender("ana", ledger.SpenderRole.ANALYST)
        slot, _ = await cache.lookup(pool, "audience", "ana", [], 86_400)
        cost = ledger.Cost(Decimal("0.3"), Decimal(0), Decimal("0.3"), Decimal(0))
        done = await ledger.charge(pool, ana, "audience", cost, "r1", ["h1", "h2"], slot.key())
        assert done.charged and done.event_id is not None
        event = done.event_id
        share = ledger.Cost(Decimal("0.1"), Decimal(0), Decimal("0.1"), Decimal(0))
        too_much = ledger.Cost(Decimal("0.25"), Decimal(0), Decimal("0.25"), Decimal(0))
        refund = ledger.refund
        assert await refund(pool, event, "h3", share, "r2") is ledger.RefundOutcome.NOT_CHARGED
        assert await refund(pool, event, "h1", share, "r2") is ledger.RefundOutcome.REFUNDED
        assert await refund(pool, event, "h1", share, "r3") is ledger.RefundOutcome.ALREADY_REFUNDED
        assert await refund(pool, event, "h2", too_much, "r4") is ledger.RefundOutcome.EXCEEDS_CHARGE
        await pool.execute(
            "INSERT INTO dp_answers (dataset, query_hash, data_version, epoch, canonical, answer, epsilon,"
            " charge_event) VALUES ('audience', 'h2', $1, $2, '{}', '{}', 0.2, $3)",
            slot.data_version,
            slot.epoch,
            event,
        )
        assert await refund(pool, event, "h2", share, "r5") is ledger.RefundOutcome.RELEASED
        assert await _spent(audience) == {"ana": Decimal("0.2"), "bob": 0, "cat": 0, "*": Decimal("0.2")}
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await pool.execute("UPDATE privacy_events SET epsilon = 0 WHERE kind = 'refund'")
    finally:
        await pool.close()

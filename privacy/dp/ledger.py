"""The privacy budget ledger in PostgreSQL: durable across restarts and shared by every worker.

Who spends: *spenders*, analysts (the DP templates) and marketers (DP segment sizes), each
created by an admin with a budget; nobody gets a budget by asking. Every dataset also has one
cap across all spenders, the bound on what any one person's data is exposed to.

A charge is one call of the SQL function `dp_charge` (migration 0130): it locks the spender's
row and the dataset's row, checks both caps against what is left, and either updates both and
appends the `charge` event, or changes nothing. A refund is one call of `dp_refund`, which
appends a `refund` event tied to its charge and never gives back more than was charged, nor
anything for a release that was stored. privacy/PROOFS.md ("Budget") has the argument. Values
are Decimal end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

import asyncpg

from sql import load_queries

Q = load_queries()
Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


class SpenderRole(StrEnum):
    ANALYST = "analyst"
    MARKETER = "marketer"


@dataclass(frozen=True, slots=True)
class Spender:
    """Who a charge is for: the token's subject and role (one namespace for both roles)."""

    spender_id: str
    role: SpenderRole


@dataclass(frozen=True, slots=True)
class Budget:
    dataset: str
    cap: Decimal
    spent: Decimal
    delta_cap: Decimal
    delta_spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.cap - self.spent


@dataclass(frozen=True, slots=True)
class SpenderRecord:
    spender_id: str
    name: str
    role: SpenderRole
    created_by: str
    created_at: datetime
    budget: Budget | None


@dataclass(frozen=True, slots=True)
class Cost:
    """What one charge takes: from the spender (answers they have not paid for in this period)
    and from the dataset (answers not yet released in this period), never more from the dataset
    than from the spender."""

    epsilon: Decimal = Decimal(0)
    delta: Decimal = Decimal(0)
    dataset_epsilon: Decimal = Decimal(0)
    dataset_delta: Decimal = Decimal(0)

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.epsilon + other.epsilon,
            self.delta + other.delta,
            self.dataset_epsilon + other.dataset_epsilon,
            self.dataset_delta + other.dataset_delta,
        )

    @property
    def is_free(self) -> bool:
        return self.epsilon == 0 and self.delta == 0


class Outcome(StrEnum):
    CHARGED = "charged"
    UNKNOWN_SPENDER = "unknown_spender"
    UNKNOWN_DATASET = "unknown_dataset"
    SPENDER_EXHAUSTED = "spender_exhausted"
    DATASET_EXHAUSTED = "dataset_exhausted"


@dataclass(frozen=True, slots=True)
class Charge:
    outcome: Outcome
    event_id: int | None  # the charge event, when charged
    remaining: Decimal | None  # the spender's epsilon left (after the charge, or when refused)
    dataset_remaining: Decimal | None

    @property
    def charged(self) -> bool:
        return self.outcome is Outcome.CHARGED


async def spender_exists(conn: Conn, spender: Spender) -> bool:
    return await conn.fetchrow(Q.dp_spender, spender.spender_id, spender.role.value) is not None


async def charge(
    conn: Conn,
    spender: Spender,
    dataset: str,
    cost: Cost,
    request_id: str,
    query_hashes: Sequence[str],
    slot: tuple[int, int],
) -> Charge:
    """Spend `cost` from the spender and the dataset at once, or nothing; `query_hashes` are the
    answers the spender pays for, receipted for the release slot (data version, epoch)."""
    row = await conn.fetchrow(
        *Q.dp_charge.bind(
            spender_id=spender.spender_id,
            role=spender.role.value,
            dataset=dataset,
            epsilon=cost.epsilon,
            delta=cost.delta,
            dataset_epsilon=cost.dataset_epsilon,
            dataset_delta=cost.dataset_delta,
            request_id=request_id,
            query_hashes=list(query_hashes),
            data_version=slot[0],
            epoch=slot[1],
        )
    )
    assert row is not None
    return Charge(Outcome(row["outcome"]), row["charge_event"], row["remaining"], row["dataset_remaining"])


class RefundOutcome(StrEnum):
    REFUNDED = "refunded"
    RELEASED = "released"  # the answer was stored: it counts as released, nothing is given back
    ALREADY_REFUNDED = "already_refunded"
    NOT_CHARGED = "not_charged"
    EXCEEDS_CHARGE = "exceeds_charge"


async def refund(
    conn: Conn, charge_event: int, query_hash: str, cost: Cost, request_id: str
) -> RefundOutcome:
    """Give back one query's share of a charge whose release failed before anything was returned."""
    outcome = await conn.fetchval(
        *Q.dp_refund.bind(
            charge_event=charge_event,
            query_hash=query_hash,
            epsilon=cost.epsilon,
            delta=cost.delta,
            dataset_epsilon=cost.dataset_epsilon,
            dataset_delta=cost.dataset_delta,
            request_id=request_id,
        )
    )
    return RefundOutcome(outcome)


def _budget(dataset: str, row: asyncpg.Record) -> Budget:
    return Budget(dataset, row["epsilon_cap"], row["epsilon_spent"], row["delta_cap"], row["delta_spent"])


async def budget(conn: Conn, spender: Spender, dataset: str) -> Budget | None:
    """The spender's budget on `dataset`; None for an unknown spender."""
    if not await spender_exists(conn, spender):
        return None
    row = await conn.fetchrow(Q.dp_budget, spender.spender_id, dataset)
    return None if row is None else _budget(dataset, row)


class CapRefused(StrEnum):
    UNKNOWN = "unknown"
    BELOW_SPENT = "below_spent"


async def set_cap(
    conn: Conn, spender_id: str, dataset: str, cap: Decimal, request_id: str, actor: str
) -> Budget | CapRefused:
    """Set a registered spender's epsilon cap; refused below what they already spent."""
    row = await conn.fetchrow(Q.dp_set_cap, spender_id, dataset, cap, request_id, actor)
    assert row is not None
    if not row["known"]:
        return CapRefused.UNKNOWN
    if row["epsilon_cap"] is None:
        return CapRefused.BELOW_SPENT
    return _budget(dataset, row)


def _record(row: asyncpg.Record, dataset: str) -> SpenderRecord:
    budget = None if row["epsilon_cap"] is None else _budget(dataset, row)
    return SpenderRecord(
        row["analyst_id"], row["name"], SpenderRole(row["role"]), row["created_by"], row["created_at"], budget
    )


async def create_spender(
    conn: Conn,
    spender: Spender,
    name: str,
    dataset: str,
    epsilon_cap: Decimal,
    delta_cap: Decimal,
    request_id: str,
    actor: str,
) -> SpenderRecord | None:
    """Register a spender with its budget (and record the caps); None when the id is taken."""
    row = await conn.fetchrow(
        *Q.dp_create_spender.bind(
            spender_id=spender.spender_id,
            name=name,
            role=spender.role.value,
            dataset=dataset,
            epsilon_cap=epsilon_cap,
            delta_cap=delta_cap,
            request_id=request_id,
            actor=actor,
        )
    )
    return None if row is None else _record(row, dataset)


async def spenders(conn: Conn, dataset: str) -> list[SpenderRecord]:
    return [_record(r, dataset) for r in await conn.fetch(Q.dp_spenders, dataset)]


async def dataset_budgets(conn: Conn) -> list[Budget]:
    return [_budget(r["dataset"], r) for r in await conn.fetch(Q.dp_dataset_budgets)]


async def set_dataset_cap(
    conn: Conn, dataset: str, cap: Decimal, delta_cap: Decimal | None, request_id: str, actor: str
) -> Budget | CapRefused:
    """Set a dataset's caps across every spender; refused below what is already spent."""
    row = await conn.fetchrow(Q.dp_set_dataset_cap, dataset, cap, delta_cap, request_id, actor)
    assert row is not None
    if not row["known"]:
        return CapRefused.UNKNOWN
    if row["epsilon_cap"] is None:
        return CapRefused.BELOW_SPENT
    return _budget(dataset, row)


@dataclass(frozen=True, slots=True)
class Entry:
    """One append-only ledger event: a charge, a refund or a cap change."""

    event_id: int
    kind: str
    epsilon: Decimal
    delta: Decimal
    queries: int
    at: datetime


async def entries(conn: Conn, spender_id: str, dataset: str, limit: int) -> list[Entry]:
    """A spender's own ledger, newest first."""
    rows = await conn.fetch(Q.dp_ledger_entries, spender_id, dataset, limit)
    return [Entry(r["event_id"], r["kind"], r["epsilon"], r["delta"], r["queries"], r["at"]) for r in rows]

"""The privacy budget ledger in PostgreSQL: durable across restarts and shared by every worker.

A charge is one conditional UPDATE (`spent + cost <= cap`) whose RETURNING row both proves the
charge and feeds the append-only `privacy_events` insert in the same statement; two processes
racing for the last 0.1 cannot both win because the row lock serialises the updates and the
second re-checks the condition against the first one's result. Values are Decimal end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from sql import load_queries

Q = load_queries()


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
class Defaults:
    """Caps given to an analyst's first budget row for a dataset."""

    epsilon_cap: Decimal
    delta_cap: Decimal


async def ensure(conn: asyncpg.Pool | asyncpg.Connection, analyst: str, dataset: str, d: Defaults) -> None:
    await conn.execute(Q.dp_ensure_budget, analyst, dataset, d.epsilon_cap, d.delta_cap)


@dataclass(frozen=True, slots=True)
class Charge:
    charged: bool
    remaining: Decimal  # after the charge, or what is left when refused


async def charge(
    pool: asyncpg.Pool,
    analyst: str,
    dataset: str,
    epsilon: Decimal,
    delta: Decimal,
    defaults: Defaults,
    request_id: str,
    query_hashes: Sequence[str],
) -> Charge:
    """Spend (epsilon, delta) at once, or nothing. One statement when the budget row exists."""
    args = (analyst, dataset, epsilon, delta, request_id, list(query_hashes))
    row = await pool.fetchrow(Q.dp_charge, *args)
    assert row is not None
    if row["remaining"] is None:  # first charge of this analyst on this dataset
        await ensure(pool, analyst, dataset, defaults)
        row = await pool.fetchrow(Q.dp_charge, *args)
        assert row is not None
    return Charge(bool(row["charged"]), row["remaining"])


async def budget(
    conn: asyncpg.Pool | asyncpg.Connection, analyst: str, dataset: str, defaults: Defaults
) -> Budget:
    row = await conn.fetchrow(Q.dp_budget, analyst, dataset)
    if row is None:  # nothing spent yet: the defaults apply (the row is created on first charge)
        return Budget(dataset, defaults.epsilon_cap, Decimal(0), defaults.delta_cap, Decimal(0))
    return Budget(dataset, row["epsilon_cap"], row["epsilon_spent"], row["delta_cap"], row["delta_spent"])


async def set_cap(
    pool: asyncpg.Pool,
    analyst: str,
    dataset: str,
    cap: Decimal,
    defaults: Defaults,
    request_id: str,
) -> Budget | None:
    """Set the epsilon cap; None when it is below what the analyst already spent."""
    row = await pool.fetchrow(Q.dp_set_cap, analyst, dataset, cap, defaults.delta_cap, request_id)
    if row is None:
        return None
    return Budget(dataset, row["epsilon_cap"], row["epsilon_spent"], row["delta_cap"], row["delta_spent"])


@dataclass(frozen=True, slots=True)
class Entry:
    """One append-only ledger event: a charge, a refund or a cap change."""

    event_id: int
    kind: str
    epsilon: Decimal
    delta: Decimal
    queries: int
    at: datetime


async def entries(pool: asyncpg.Pool, analyst: str, dataset: str, limit: int) -> list[Entry]:
    """The analyst's own ledger, newest first."""
    rows = await pool.fetch(Q.dp_ledger_entries, analyst, dataset, limit)
    return [Entry(r["event_id"], r["kind"], r["epsilon"], r["delta"], r["queries"], r["at"]) for r in rows]

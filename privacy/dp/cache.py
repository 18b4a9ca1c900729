"""Released answers keyed by the canonical form of a query and its release slot.

The canonical form is the template name plus its normalized arguments as sorted-key JSON, so
whitespace, argument order and aliases in the GraphQL document cannot make a query look new.

A slot is (data version, epoch). The data version changes only when an operator replaces the
data (`gateway seed --replace`); the epoch is the clock divided by the release period
(`dp.release_period_s`). Neither depends on what is in the data, so whether an answer is on
record says nothing about any person. Within a slot a query is released once: asking again
returns the same answer, so averaging repeated answers gains nothing. A spender pays once per
answer and slot (a receipt); an answer someone else paid for costs them as much as a fresh
release would, so the cache shows a spender nothing but their own history (privacy/PROOFS.md,
"The cache shows nothing for free").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from sql import load_queries

Q = load_queries()


def canonical(template: str, arguments: Mapping[str, Any]) -> str:
    """Stable text for (template, arguments); None-valued arguments are dropped."""
    kept = {k: v for k, v in arguments.items() if v is not None}
    body = orjson.dumps({"template": template, "args": kept}, option=orjson.OPT_SORT_KEYS)
    return body.decode()


def query_hash(canonical_text: str) -> str:
    return hashlib.sha256(canonical_text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Slot:
    data_version: int
    epoch: int

    def key(self) -> tuple[int, int]:
        return (self.data_version, self.epoch)


@dataclass(frozen=True, slots=True)
class Hit:
    answer: dict[str, Any]
    received: bool  # the asking spender already paid for this answer in this slot


async def lookup(
    conn: asyncpg.Pool | asyncpg.Connection,
    dataset: str,
    spender_id: str,
    hashes: Sequence[str],
    period_s: int,
) -> tuple[Slot, dict[str, Hit]]:
    """The current slot and the answers released in it, in one round trip."""
    rows = await conn.fetch(Q.dp_cached_answers, dataset, list(hashes), period_s, spender_id)
    if not rows:
        raise LookupError(f"dataset {dataset!r} has no data version")
    found = {
        r["query_hash"]: Hit(r["answer"], bool(r["received"])) for r in rows if r["query_hash"] is not None
    }
    return Slot(int(rows[0]["version"]), int(rows[0]["epoch"])), found


async def store(
    pool: asyncpg.Pool,
    dataset: str,
    slot: Slot,
    canonical_text: str,
    answer: dict[str, Any],
    epsilon: Decimal,
    charge_event: int | None,
) -> dict[str, Any]:
    """Store `answer` unless one is already on record for the slot; return the answer on record."""
    h = query_hash(canonical_text)
    stored = await pool.fetchval(
        *Q.dp_store_answer.bind(
            dataset=dataset,
            query_hash=h,
            data_version=slot.data_version,
            epoch=slot.epoch,
            canonical=canonical_text,
            answer=answer,
            epsilon=epsilon,
            charge_event=charge_event,
        )
    )
    if stored is None:  # a concurrent release committed after this statement's snapshot
        stored = await pool.fetchval(Q.dp_stored_answer, dataset, h, slot.data_version, slot.epoch)
    result: dict[str, Any] = stored
    return result

"""Released answers keyed by the canonical form of a query and the data version.

The canonical form is the template name plus its normalized arguments as sorted-key JSON, so
whitespace, argument order and aliases in the GraphQL document cannot make a query look new.
Asking again returns the stored answer at no cost: averaging repeated answers gains nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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


async def lookup(
    conn: asyncpg.Pool | asyncpg.Connection, dataset: str, hashes: Sequence[str]
) -> tuple[int, dict[str, dict[str, Any]]]:
    """The current data version and the answers released at it, in one round trip."""
    rows = await conn.fetch(Q.dp_cached_answers, dataset, list(hashes))
    if not rows:
        return 0, {}
    found = {r["query_hash"]: r["answer"] for r in rows if r["query_hash"] is not None}
    return int(rows[0]["version"]), found


async def store(
    pool: asyncpg.Pool,
    dataset: str,
    version: int,
    canonical_text: str,
    answer: dict[str, Any],
    epsilon: Decimal,
) -> dict[str, Any]:
    """Store `answer` unless one is already on record; return the answer on record."""
    h = query_hash(canonical_text)
    stored = await pool.fetchval(Q.dp_store_answer, dataset, h, version, canonical_text, answer, epsilon)
    if stored is None:  # a concurrent release committed after this statement's snapshot
        _, found = await lookup(pool, dataset, [h])
        stored = found[h]
    result: dict[str, Any] = stored
    return result

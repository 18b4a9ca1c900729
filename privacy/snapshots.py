"""Consent snapshots of several users in one query, for writers acting on behalf of many users
(an app's event batch). Same rules as `guard.load_snapshot`, which serves one request's user."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from privacy.consent import ConsentSnapshot
from privacy.guard import snapshot_from_row
from sql import load_queries

Q = load_queries()


async def load_snapshots(
    conn: asyncpg.Pool | asyncpg.Connection, user_ids: Iterable[int], gpc: bool
) -> dict[int, ConsentSnapshot]:
    """Snapshot per existing user id; unknown (or erased) ids are simply absent."""
    rows = await conn.fetch(Q.consent_snapshots, sorted(set(user_ids)))
    return {row["user_id"]: snapshot_from_row(row["user_id"], row, gpc) for row in rows}

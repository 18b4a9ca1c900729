"""Consent snapshots of several users in one query, for writers acting on behalf of many users
(an app's event batch). Same rules as `guard.load_snapshot`, which serves one request's user."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from privacy.consent import ConsentSnapshot, Level
from sql import load_queries

Q = load_queries()


async def load_snapshots(
    conn: asyncpg.Pool | asyncpg.Connection, user_ids: Iterable[int], gpc: bool
) -> dict[int, ConsentSnapshot]:
    """Snapshot per existing user id; unknown (or erased) ids are simply absent."""
    rows = await conn.fetch(Q.load_consent_snapshots, sorted(set(user_ids)))
    return {
        row["user_id"]: ConsentSnapshot(
            user_id=row["user_id"],
            granted=frozenset(row["granted"]),
            level=Level(row["personalization_level"]),
            is_minor=row["is_minor"],
            objected_to_marketing=row["objected_to_marketing"],
            gpc=gpc,
            consent_version=row["consent_version"],
        )
        for row in rows
    }

"""Segment membership refresh on a schedule: the rollup behind the analysts' SEGMENT dimension
(resolvers/segments/members.py) re-evaluated for every user, as `gateway refresh-segments` does by
hand. Idempotent: it recomputes the whole membership from the rules and the rollups."""

from __future__ import annotations

import uuid

import asyncpg

from privacy.principal import Principal, Role
from resolvers.config import DomainConfig
from resolvers.segments.members import RefreshCounts, refresh_members

PRINCIPAL = Principal(Role.ADMIN, "worker:segments.refresh")


async def refresh_segments(pool: asyncpg.Pool, config: DomainConfig) -> RefreshCounts:
    return await refresh_members(pool, PRINCIPAL, config, request_id=f"job-segments-{uuid.uuid4()}")

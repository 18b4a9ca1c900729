"""Public rule versions (`config_versions`), cached per worker as reference data: part of every
layout decision's rule reference and of the layout ETag."""

from __future__ import annotations

import asyncpg

from resolvers.context import Context
from resolvers.model.reference import ReferenceKind
from sql import load_queries

Q = load_queries()


async def _load(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["name"]: int(r["version"]) for r in await pool.fetch(Q.config_versions)}


VERSIONS = ReferenceKind[dict[str, int]]("config_versions", _load)
# Where an answer served with an ETag finds the layout version that ETag was computed from.
LAYOUT_VERSION_MEMO = "layout_config_version"


async def config_version(ctx: Context, name: str) -> int:
    if name == "layout" and LAYOUT_VERSION_MEMO in ctx.memo:
        return int(ctx.memo[LAYOUT_VERSION_MEMO])
    return (await ctx.reference(VERSIONS)).get(name, 1)

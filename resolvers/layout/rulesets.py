"""Layout rules per tag combination, as data a marketer edits at run time (`setLayoutRules`).

A rule set is a list of rules, each for one tag combination: an experience tag, a price tier,
or both (NEWBIE and LUXURY), giving the sections in order and/or the number of offers. The most
specific rule that matches the person's (personalized) tags wins: both tags, then the
experience alone, then the price tier alone; what no rule sets comes from the deployed settings
(`LayoutConfig`). Each save is an immutable version (migration 0401) that moves the layout rule
version, so layout ETags follow it; every worker drops its cached copy on NOTIFY, and a request
whose ETag names another version reads the rule set of that version."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from resolvers.context import Context
from resolvers.model.layout_rules import NO_RULES, LayoutRule, LayoutRuleSet, validate
from resolvers.model.reference import ReferenceKind
from sql import load_queries

Q = load_queries()
__all__ = ["CURRENT", "NO_RULES", "LayoutRule", "LayoutRuleSet", "rule_set_at", "validate"]


@dataclass(frozen=True, slots=True)
class _Current:
    layout_version: int
    rule_set: LayoutRuleSet


async def _load(pool: asyncpg.Pool) -> _Current:
    row = await pool.fetchrow(Q.current_layout_rules)
    assert row is not None
    if row["version"] is None:
        return _Current(int(row["layout_version"]), NO_RULES)
    return _Current(
        int(row["layout_version"]),
        LayoutRuleSet.of(row["version"], row["set_layout_version"], row["rules"]),
    )


# The current rule set: public configuration, cached per worker, dropped on NOTIFY.
CURRENT = ReferenceKind[_Current]("layout_rules", _load)


async def rule_set_at(ctx: Context, layout_version: int) -> LayoutRuleSet:
    """The rule set in effect at `layout_version` (the version the answer, and its ETag, name)."""
    current = await ctx.reference(CURRENT)
    if current.layout_version == layout_version:
        return current.rule_set
    row = await ctx.pool.fetchrow(Q.layout_rules_at, layout_version)  # another version: rare
    if row is None:
        return NO_RULES
    return LayoutRuleSet.of(row["version"], row["layout_version"], row["rules"])

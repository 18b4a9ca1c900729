"""Layout rules per tag combination, as data a marketer edits at run time (`setLayoutRules`).

A rule set is a list of rules, each for one tag combination: an experience tag, a price tier,
or both (NEWBIE and LUXURY), giving the sections in order and/or the number of offers. The most
specific rule that matches the person's (personalized) tags wins: both tags, then the
experience alone, then the price tier alone; what no rule sets comes from the deployed settings
(`LayoutConfig`). Each save is an immutable version (migration 0401) that moves the layout rule
version, so layout ETags follow it; every worker drops its cached copy on NOTIFY, and a request
whose ETag names another version reads the rule set of that version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from privacy.vocabulary import Experience, PriceTier
from resolvers.common.errors import FieldError
from resolvers.context import Context
from resolvers.model.reference import ReferenceKind
from sql import load_queries

Q = load_queries()
MAX_RULES = 15  # 3 x 3 combinations + 3 experiences + 3 tiers
MAX_SECTIONS = 12
MAX_OFFERS = 10


@dataclass(frozen=True, slots=True)
class LayoutRule:
    experience: str | None
    price_tier: str | None
    sections: tuple[str, ...] | None
    offer_count: int | None

    @property
    def key(self) -> str:
        return f"{self.experience or '*'}+{self.price_tier or '*'}"

    @property
    def specificity(self) -> int:
        return (2 if self.experience else 0) + (1 if self.price_tier else 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "experience": self.experience,
            "price_tier": self.price_tier,
            "sections": list(self.sections) if self.sections is not None else None,
            "offer_count": self.offer_count,
        }


@dataclass(frozen=True, slots=True)
class LayoutRuleSet:
    version: int  # the rule set's own version (1, 2, ...); 0: none saved yet
    layout_version: int  # the layout rule version this set took effect at
    rules: tuple[LayoutRule, ...]

    @classmethod
    def of(cls, version: int, layout_version: int, rules: Sequence[Mapping[str, Any]]) -> LayoutRuleSet:
        return cls(
            version,
            layout_version,
            tuple(
                LayoutRule(
                    r.get("experience"),
                    r.get("price_tier"),
                    tuple(r["sections"]) if r.get("sections") is not None else None,
                    r.get("offer_count"),
                )
                for r in rules
            ),
        )

    def match(
        self, experience: str | None, price_tier: str | None
    ) -> tuple[LayoutRule | None, LayoutRule | None]:
        """The most specific rule setting the sections, and the one setting the offer count, for
        these tags (None: a tag that may not be used)."""
        fitting = sorted(
            (
                r
                for r in self.rules
                if (r.experience is None or r.experience == experience)
                and (r.price_tier is None or r.price_tier == price_tier)
            ),
            key=lambda r: -r.specificity,
        )
        sections = next((r for r in fitting if r.sections is not None), None)
        offers = next((r for r in fitting if r.offer_count is not None), None)
        return sections, offers


NO_RULES = LayoutRuleSet(0, 0, ())


def validate(
    raw: Sequence[Mapping[str, Any]], sections: frozenset[str]
) -> tuple[list[LayoutRule], list[FieldError]]:
    """Rules from a marketer's input (tags already typed by GraphQL), or every problem by field."""
    errors: list[FieldError] = []
    if len(raw) > MAX_RULES:
        return [], [FieldError(field="rules", message=f"at most {MAX_RULES} rules (one per tag combination)")]
    out: list[LayoutRule] = []
    seen: set[str] = set()
    for i, r in enumerate(raw):
        path = f"rules[{i}]"
        experience, tier = r.get("experience"), r.get("priceTier")
        if experience is None and tier is None:
            errors.append(FieldError(field=path, message="name an experience, a price tier or both"))
        if experience is not None and experience not in {e.value for e in Experience}:
            errors.append(FieldError(field=f"{path}.experience", message="not an experience tag"))
        if tier is not None and tier not in {t.value for t in PriceTier}:
            errors.append(FieldError(field=f"{path}.priceTier", message="not a price tier"))
        chosen = r.get("sections")
        count = r.get("offerCount")
        if chosen is None and count is None:
            errors.append(FieldError(field=path, message="set sections, offerCount or both"))
        if chosen is not None:
            if not 1 <= len(chosen) <= MAX_SECTIONS:
                errors.append(
                    FieldError(field=f"{path}.sections", message=f"give 1 to {MAX_SECTIONS} sections")
                )
            for j, s in enumerate(chosen[:MAX_SECTIONS]):
                if s not in sections:
                    errors.append(
                        FieldError(
                            field=f"{path}.sections[{j}]",
                            message="not a known section: " + ", ".join(sorted(sections)),
                        )
                    )
            if len(set(chosen)) != len(chosen):
                errors.append(FieldError(field=f"{path}.sections", message="a section appears twice"))
        if count is not None and not 0 <= count <= MAX_OFFERS:
            errors.append(FieldError(field=f"{path}.offerCount", message=f"must be 0..{MAX_OFFERS}"))
        rule = LayoutRule(experience, tier, tuple(chosen) if chosen is not None else None, count)
        if rule.key in seen:
            errors.append(FieldError(field=path, message=f"a second rule for {rule.key}"))
        seen.add(rule.key)
        out.append(rule)
    return (out, []) if not errors else ([], errors)


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

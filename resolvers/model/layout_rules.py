"""Layout rules per tag combination (pure): the rule, the rule set, the most specific match and
the validation of a marketer's document. Shared by the layout (the current rule set, saved with
`setLayoutRules`, resolvers/layout/rulesets.py) and experiments (a LAYOUT_RULES variant is a
rule set of its own), so a rule set is one thing wherever it comes from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from privacy.vocabulary import Experience, PriceTier
from resolvers.common.errors import FieldError

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


_KEYS = frozenset({"experience", "priceTier", "sections", "offerCount"})
_EXPERIENCES = frozenset(e.value for e in Experience)
_TIERS = frozenset(t.value for t in PriceTier)


def validate(
    raw: Sequence[Mapping[str, Any]], sections: frozenset[str], prefix: str = "rules"
) -> tuple[list[LayoutRule], list[FieldError]]:
    """Rules from a marketer's input (typed by GraphQL, or JSON inside an experiment variant, so
    every type is checked too), or every problem by field."""
    errors: list[FieldError] = []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return [], [FieldError(field=prefix, message="expected a list of rules")]
    if len(raw) > MAX_RULES:
        return [], [FieldError(field=prefix, message=f"at most {MAX_RULES} rules (one per tag combination)")]
    out: list[LayoutRule] = []
    seen: set[str] = set()
    for i, r in enumerate(raw):
        path = f"{prefix}[{i}]"
        if not isinstance(r, Mapping) or not set(r) <= _KEYS:
            errors.append(
                FieldError(field=path, message="expected an object with " + ", ".join(sorted(_KEYS)))
            )
            continue
        experience, tier = r.get("experience"), r.get("priceTier")
        if experience is None and tier is None:
            errors.append(FieldError(field=path, message="name an experience, a price tier or both"))
        if experience is not None and (not isinstance(experience, str) or experience not in _EXPERIENCES):
            errors.append(FieldError(field=f"{path}.experience", message="not an experience tag"))
        if tier is not None and (not isinstance(tier, str) or tier not in _TIERS):
            errors.append(FieldError(field=f"{path}.priceTier", message="not a price tier"))
        chosen = r.get("sections")
        count = r.get("offerCount")
        if chosen is None and count is None:
            errors.append(FieldError(field=path, message="set sections, offerCount or both"))
        if chosen is not None and (
            not isinstance(chosen, list) or not all(isinstance(x, str) for x in chosen)
        ):
            errors.append(FieldError(field=f"{path}.sections", message="expected a list of section names"))
            chosen = None
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            errors.append(FieldError(field=f"{path}.offerCount", message="expected an integer"))
            count = None
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

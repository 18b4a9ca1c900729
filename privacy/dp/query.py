"""What an analyst may ask: a template, its epsilon and arguments over declared dimensions.

A `DPQuery` is immutable and knows its own cost and canonical form, so the planner (which
charges) and the runner (which releases) can never disagree about either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from privacy.dp import cache
from privacy.purposes import ANALYTICS


class Template(StrEnum):
    DISTINCT_USERS = "distinct_users"
    USERS_BY = "users_by"
    ORDER_VALUE_SUM = "order_value_sum"
    ORDER_VALUE_MEAN = "order_value_mean"
    HISTOGRAM = "histogram"
    FUNNEL = "funnel"
    MEDIAN_ORDER_VALUE = "median_order_value"
    EXPERIMENT_RESULTS = "experiment_results"
    EXPERIMENT_SIZES = "experiment_sizes"


SINGLE_VALUED = ("COUNTRY", "PLATFORM", "EXPERIENCE", "PRICE_TIER")
NON_PUBLIC = ("FEATURE",)
PLATFORMS = ("android", "ios", "unknown", "web")
EXPERIENCES = ("NEWBIE", "POWER", "REGULAR")
PRICE_TIERS = ("BUDGET", "LUXURY", "MID")
WINDOW_DAYS: dict[str, int | None] = {
    "LAST_7_DAYS": 7,
    "LAST_30_DAYS": 30,
    "LAST_90_DAYS": 90,
    "LAST_365_DAYS": 365,
    "ALL": None,
}
ANALYTICS_PURPOSE = ANALYTICS


@dataclass(frozen=True, slots=True)
class AudienceParams:
    """The public configuration a release depends on (DPConfig + TagThresholds, flattened)."""

    tag_thresholds: tuple[int, int, int, int, int, float, float]
    countries: tuple[str, ...]
    categories: tuple[str, ...]
    order_value_max_cents: int
    max_groups: int
    order_value_bins: tuple[int, ...]
    session_bins: tuple[int, ...]
    selection_delta: Decimal
    min_group_size: int = 0
    # Ids of the live segments (public marketer configuration), read when an operation is priced.
    segments: tuple[str, ...] = ()
    # Below this noisy exposed count in any arm an experiment's metrics are not released.
    experiment_min_exposed: int = 100

    def keys(self, dimension: str) -> tuple[str, ...] | None:
        """The public key set of a dimension; None for a dimension whose keys are not public."""
        if dimension == "COUNTRY":
            return (*self.countries, "OTHER")
        if dimension == "PLATFORM":
            return PLATFORMS
        if dimension == "EXPERIENCE":
            return EXPERIENCES
        if dimension == "PRICE_TIER":
            return PRICE_TIERS
        if dimension == "CATEGORY":
            return self.categories
        if dimension == "SEGMENT":
            return self.segments
        return None

    def groups_per_user(self, dimension: str) -> int:
        """How many keys of `dimension` one user can add to (bounded in SQL by dp_user_keys):
        max_groups for CATEGORY, FEATURE and SEGMENT (a user may be in many segments)."""
        return 1 if dimension in SINGLE_VALUED else self.max_groups

    def fingerprint(self) -> str:
        """Changes whenever a parameter that shapes an answer changes (part of the cache key)."""
        return cache.query_hash(repr(self))[:16]


@dataclass(frozen=True, slots=True)
class AudienceFilter:
    window: str = "ALL"
    country: str | None = None
    platform: str | None = None
    experience: str | None = None
    price_tier: str | None = None
    category: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "country": self.country,
            "platform": self.platform,
            "experience": self.experience,
            "price_tier": self.price_tier,
            "category": self.category,
        }


@dataclass(frozen=True, slots=True)
class DPQuery:
    template: Template
    epsilon: Decimal
    filter: AudienceFilter = field(default_factory=AudienceFilter)
    dimensions: tuple[str, ...] = ()
    metric: str | None = None
    # Experiment templates: the experiment's key and the definition version the answer is of.
    experiment: str | None = None
    experiment_version: int | None = None

    def delta(self, params: AudienceParams) -> Decimal:
        """Delta spent: only releases that select non-public keys by threshold spend any."""
        if any(d in NON_PUBLIC for d in self.dimensions):
            return params.selection_delta
        return Decimal(0)

    def canonical(self, params: AudienceParams) -> str:
        return cache.canonical(
            self.template.value,
            {
                "epsilon": str(self.epsilon.normalize()),
                "filter": self.filter.as_dict(),
                "dimensions": list(self.dimensions) or None,
                "metric": self.metric,
                "experiment": self.experiment,
                "experiment_version": self.experiment_version,
                "params": params.fingerprint(),
            },
        )

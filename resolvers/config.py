"""Tunable, public product configuration that the decision code reads (not secrets).

The gateway's Settings nests this as `domain`, so every value can be set from the environment
(`GATEWAY_DOMAIN__FEED_MAX_LIMIT=30`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from privacy.retention import RetentionPolicy
from resolvers.common.limits import LimitsConfig
from resolvers.model.catalog import SENSITIVE_CATEGORIES
from resolvers.model.personal_config import IngestConfig, LayoutConfig
from resolvers.model.personalization_config import PersonalizationConfig


class TagThresholds(BaseModel):
    """The one place the layout tags' thresholds live. Shared by the per-user decision (Python)
    and the analyst dimensions (SQL parameters), so both always agree.

    experience: POWER when sessions >= power_min_sessions, distinct features used >=
    power_min_features and tenure >= power_min_tenure_days; NEWBIE when sessions <
    regular_min_sessions or tenure < newbie_max_tenure_days; REGULAR otherwise.
    price tier (mean price level 1..4 of purchases and bookings): LUXURY at or above
    luxury_min_mean_level, BUDGET at or below budget_max_mean_level, MID otherwise or when
    nothing was bought yet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    power_min_sessions: int = Field(default=30, ge=1)
    power_min_features: int = Field(default=5, ge=1)
    power_min_tenure_days: int = Field(default=30, ge=0)
    regular_min_sessions: int = Field(default=5, ge=1)
    newbie_max_tenure_days: int = Field(default=14, ge=0)
    luxury_min_mean_level: float = Field(default=3.0, ge=1, le=4)
    budget_max_mean_level: float = Field(default=1.6, ge=1, le=4)


class DPConfig(BaseModel):
    """Public parameters of the analyst API (DESIGN §6). Everything here may be published: the
    noise scale and intervals analysts see are computed from these values only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "audience"
    per_query_epsilon_cap: Decimal = Field(default=Decimal("1.0"), gt=0)
    default_epsilon_cap: Decimal = Field(default=Decimal("10"), ge=0)
    default_delta_cap: Decimal = Field(default=Decimal("1e-5"), ge=0, lt=1)
    # delta spent by one release of a non-public dimension (partition selection, tau).
    selection_delta: Decimal = Field(default=Decimal("1e-7"), gt=0, lt=1)
    # Per-user order value is clamped to [0, order_value_max_cents]: the sum's sensitivity.
    order_value_max_cents: int = Field(default=100_000, ge=1)
    # Keys (categories bought, features used) one user may add to: the group-by sensitivity.
    max_groups_per_user: int = Field(default=5, ge=1, le=50)
    # Histogram bin lower edges; the last bin is open (values above are clamped into it).
    order_value_bins_cents: tuple[int, ...] = (0, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000)
    session_bins: tuple[int, ...] = (0, 1, 2, 5, 10, 20, 50, 100)
    # The public key set of the CATEGORY dimension: the catalog's categories, never a sensitive
    # one (an audience defined by health or pregnancy purchases is not offered to analysts).
    categories: tuple[str, ...] = ("apparel", "beauty", "electronics", "groceries", "restaurants")
    countries: tuple[str, ...] = (
        "AU", "BR", "CA", "DE", "ES", "FR", "GB", "IN", "IT", "JP", "MX", "NL", "PL", "SE", "US",
    )  # fmt: skip
    # Released counts below this (after noise) are reported as 0: post-processing, optional.
    min_group_size: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_bins(self) -> DPConfig:
        sensitive = sorted(set(self.categories) & SENSITIVE_CATEGORIES)
        if sensitive:
            raise ValueError(f"categories must not include sensitive categories: {sensitive}")
        for name in ("order_value_bins_cents", "session_bins"):
            edges = getattr(self, name)
            if not edges or edges[0] != 0 or list(edges) != sorted(set(edges)):
                raise ValueError(f"{name} must start at 0 and increase strictly")
        return self


class DomainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    feed_max_limit: int = Field(default=50, ge=1, le=200)
    tags: TagThresholds = TagThresholds()
    # --- personalization ---
    personalization: PersonalizationConfig = PersonalizationConfig()
    ingest: IngestConfig = IngestConfig()
    layout: LayoutConfig = LayoutConfig()
    # --- privacy ---
    retention: RetentionPolicy = RetentionPolicy()
    # --- analytics ---
    dp: DPConfig = DPConfig()
    # --- limits ---
    limits: LimitsConfig = LimitsConfig()

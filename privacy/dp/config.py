"""Public parameters of the analyst API (DESIGN §6): everything here may be published; the noise
scale and intervals analysts see are computed from these values only."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from privacy.sensitive import SENSITIVE_CATEGORIES


class DPConfig(BaseModel):
    """Public parameters of the analyst API (DESIGN §6). Everything here may be published: the
    noise scale and intervals analysts see are computed from these values only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "audience"
    per_query_epsilon_cap: Decimal = Field(default=Decimal("1.0"), gt=0)
    # Caps createAnalyst gives when the admin names none (nobody gets a budget without an admin).
    default_epsilon_cap: Decimal = Field(default=Decimal("10"), ge=0)
    default_delta_cap: Decimal = Field(default=Decimal("1e-5"), ge=0, lt=1)
    # Released answers are reused within one period of the clock (epoch = now / period), never
    # across periods: the cache's state depends on the clock, not on the data (PROOFS.md).
    release_period_s: int = Field(default=86_400, ge=1, le=31 * 86_400)
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
    # Experiment results: below this noisy exposed count in any arm, no metric is released.
    experiment_min_exposed: int = Field(default=100, ge=1)

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

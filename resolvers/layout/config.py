"""The mobile layout's building blocks."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LayoutConfig(BaseModel):
    """The mobile layout's building blocks. Only the evaluated result ever reaches a client; the
    version in config_versions('layout') is part of the layout ETag, so bump it when changing these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_sections: tuple[str, ...] = ("home_feed", "offers", "categories", "search", "wishlist", "orders")
    newbie_sections: tuple[str, ...] = ("welcome", "how_it_works", "popular", "categories")
    # Sections that are also app features (feature_used names): power users get theirs first.
    feature_sections: frozenset[str] = frozenset(
        {"search", "wishlist", "orders", "bookings", "scan", "reorder"}
    )
    offers_by_tier: dict[str, int] = Field(default_factory=lambda: {"BUDGET": 3, "MID": 2, "LUXURY": 1})
    # How long a client may reuse a layout before revalidating with If-None-Match.
    max_age_s: int = Field(default=300, ge=0, le=86_400)

    @model_validator(mode="after")
    def _every_tier_has_a_count(self) -> Self:
        tiers = {"BUDGET", "MID", "LUXURY"}
        if set(self.offers_by_tier) != tiers or any(n < 0 for n in self.offers_by_tier.values()):
            raise ValueError("offers_by_tier needs a count >= 0 for exactly BUDGET, MID and LUXURY")
        return self

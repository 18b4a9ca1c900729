"""The mobile layout's building blocks."""

from __future__ import annotations

import re
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
    # The published options of the person's own customization (`customizationOptions`): accent
    # colours by name (sRGB hex), text sizes, and how many sections may be pinned or hidden.
    accent_palette: dict[str, str] = Field(
        default_factory=lambda: {
            "ocean": "#1565C0",
            "forest": "#2E7D32",
            "sunset": "#EF6C00",
            "berry": "#AD1457",
            "violet": "#6A1B9A",
            "slate": "#455A64",
        }
    )
    font_scales: tuple[float, ...] = (0.85, 1.0, 1.15, 1.3, 1.5, 2.0)
    max_custom_sections: int = Field(default=10, ge=0, le=20)

    @property
    def section_keys(self) -> tuple[str, ...]:
        """Every section the app has (what a person may pin or hide), in a stable order."""
        seen = dict.fromkeys((*self.default_sections, *self.newbie_sections, *sorted(self.feature_sections)))
        return tuple(seen)

    @model_validator(mode="after")
    def _every_tier_has_a_count(self) -> Self:
        tiers = {"BUDGET", "MID", "LUXURY"}
        if set(self.offers_by_tier) != tiers or any(n < 0 for n in self.offers_by_tier.values()):
            raise ValueError("offers_by_tier needs a count >= 0 for exactly BUDGET, MID and LUXURY")
        if not self.accent_palette or any(
            not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", k) or not re.fullmatch(r"#[0-9A-F]{6}", v)
            for k, v in self.accent_palette.items()
        ):
            raise ValueError("accent_palette: names like 'ocean' mapped to colours like '#1565C0'")
        if not self.font_scales or any(not 0.5 <= f <= 3 or round(f, 2) != f for f in self.font_scales):
            raise ValueError("font_scales: values between 0.5 and 3 with at most two decimals")
        if any(not re.fullmatch(r"[a-z0-9_]{1,40}", k) for k in self.section_keys):
            raise ValueError("section keys: lowercase words")
        return self

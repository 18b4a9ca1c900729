"""Bounds on tracked events (trackEvents) and on what one user can add to the rollups."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IngestConfig(BaseModel):
    """Bounds on tracked events (trackEvents)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_batch: int = Field(default=1000, ge=1, le=10_000)
    # Client clocks drift: an event may claim to be this far in the future.
    future_skew_s: int = Field(default=300, ge=0, le=3600)
    max_age_days: int = Field(default=30, ge=1, le=400)
    max_dwell_ms: int = Field(default=3_600_000, ge=1)
    max_amount_cents: int = Field(default=10_000_000, ge=1)
    max_quantity: int = Field(default=99, ge=1)
    max_party_size: int = Field(default=50, ge=1)
    # Distinct feature names one user's rollup keeps: later new names are not added, so no
    # user can make per-user work (or a DP release's time) grow without bound.
    max_features_per_user: int = Field(default=32, ge=1, le=1000)
    # Items one user's rollup remembers as bought (the most recent; older ones are forgotten) and
    # lines their cart holds (later new lines are not added): bounded like the feature names.
    max_purchased_items_per_user: int = Field(default=200, ge=1, le=10_000)
    max_cart_lines_per_user: int = Field(default=50, ge=1, le=1000)

"""Offer defaults and frequency caps (per-offer thresholds live in each offer's params and fall
back to these when a marketer leaves them out)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OffersConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Per-user cap over all offers, across devices (each offer also has its own cap); strictest wins.
    user_offer_cap: int = Field(default=6, ge=1)
    user_offer_cap_window_hours: int = Field(default=24, ge=1)
    offers_per_request: int = Field(default=3, ge=1, le=20)
    welcome_max_days: int = Field(default=14, ge=1)
    abandoned_cart_min_cents: int = Field(default=5000, ge=0)
    abandoned_cart_idle_minutes: int = Field(default=60, ge=0)
    re_engagement_days: int = Field(default=30, ge=1)
    spend_over_cents: int = Field(default=50000, ge=0)

"""Tunable personalization settings: feed weights and offer defaults (public, not secrets).

Nested in DomainConfig as `personalization`, so every value can be set from the environment
(`GATEWAY_DOMAIN__PERSONALIZATION__USER_OFFER_CAP=4`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FeedWeights(BaseModel):
    """How the personalized feed scores a candidate (each signal is in 0..1 before weighting)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    affinity: float = Field(default=1.0, ge=0)  # the user's category affinity, normalized
    complement: float = Field(default=1.5, ge=0)  # complements something the user bought
    repurchase: float = Field(default=2.0, ge=0)  # a consumable whose cycle is due
    popularity: float = Field(default=0.5, ge=0)  # catalog popularity, normalized
    # Recency: purchase-related boosts halve every `recency_half_life_days` after the purchase,
    # and affinities halve with the same half-life after the user was last seen.
    recency_half_life_days: float = Field(default=30.0, gt=0)


class PersonalizationConfig(BaseModel):
    """Feed weights and offer defaults; per-offer thresholds live in the offer's params and fall
    back to these defaults when a marketer leaves them out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: FeedWeights = FeedWeights()
    catalog_ttl_s: float = Field(default=30.0, ge=0)
    # Per-user cap over all offers, across devices (each offer also has its own cap); strictest wins.
    user_offer_cap: int = Field(default=6, ge=1)
    user_offer_cap_window_hours: int = Field(default=24, ge=1)
    offers_per_request: int = Field(default=3, ge=1, le=20)
    welcome_max_days: int = Field(default=14, ge=1)
    abandoned_cart_min_cents: int = Field(default=5000, ge=0)
    abandoned_cart_idle_minutes: int = Field(default=60, ge=0)
    re_engagement_days: int = Field(default=30, ge=1)
    spend_over_cents: int = Field(default=50000, ge=0)
    spend_window_days: int = Field(default=90, ge=1)
    explanations_max_limit: int = Field(default=100, ge=1)
    # Re-evaluate a segment's members for every user when it is saved (small worlds); large worlds
    # turn this off and run `gateway refresh-segments` periodically instead.
    refresh_segment_members_on_save: bool = True

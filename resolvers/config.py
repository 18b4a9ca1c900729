"""Tunable, public product configuration that the decision code reads (not secrets).

The gateway's Settings nests this as `domain`, so every value can be set from the environment
(`GATEWAY_DOMAIN__FEED_MAX_LIMIT=30`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from resolvers.limits import LimitsConfig


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


class DomainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    feed_max_limit: int = Field(default=50, ge=1, le=200)
    tags: TagThresholds = TagThresholds()
    # --- personalization ---
    # --- privacy ---
    # --- analytics ---
    # --- limits ---
    limits: LimitsConfig = LimitsConfig()

"""Configuration of what every capability shares: the layout tags' thresholds and the user
model's reference data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class ModelConfig(BaseModel):
    """The per-request user model and the reference data (catalog, offers, segments) it is
    decided against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Reference data is cached per worker for this long; writes through this gateway refresh
    # every worker at once (LISTEN/NOTIFY), the TTL bounds staleness after a direct SQL edit.
    reference_ttl_s: float = Field(default=30.0, ge=0)
    # The window of the `spend_90d_cents` segment attribute and the spend_over offer.
    spend_window_days: int = Field(default=90, ge=1)
    # Recent searches kept for ranking (the rollup keeps at most this many per user).
    searches_kept: int = Field(default=20, ge=1, le=100)

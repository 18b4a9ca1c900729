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


class PropensityConfig(BaseModel):
    """The purchase-propensity model (resolvers/model/propensity.py, jobs/propensity.py).

    Label: a purchase of any non-sensitive item within `horizon_days` after the cut-off (the
    cut-off is `horizon_days` before training, so the label's window has fully passed). Overall
    rather than per category group: one model spends the budget once, where a model per group
    would spend it once per group (every person is in every group's training set), and most
    groups have too few buyers in a window to learn from under noise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon_days: int = Field(default=30, ge=1, le=90)
    # The privacy loss of one training run: the model (diffprivlib LogisticRegression, pure ε)
    # and the noisy training size on the model card; both are charged, δ is 0.
    epsilon: float = Field(default=1.0, gt=0, le=10)
    count_epsilon: float = Field(default=0.05, gt=0, le=1)
    # Inverse regularisation strength given to diffprivlib: a smaller C means less noise in the
    # coefficients (the objective's noise term weighs less against the penalty) and more bias;
    # 0.1 measured best at ε = 1 on the demo world (docs/benchmarks.md).
    c: float = Field(default=0.1, gt=0, le=100)
    max_iter: int = Field(default=200, ge=10, le=10_000)
    # "Likely to buy soon" at or above this probability (a declared value, not learnt from data).
    likely_threshold: float = Field(default=0.5, gt=0, lt=1)
    # Held-out share for `gateway evaluate-model` (users are split by a hash of their id).
    holdout_share: float = Field(default=0.3, gt=0, lt=1)

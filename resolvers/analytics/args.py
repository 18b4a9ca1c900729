"""The analyst API's inputs: enums of declared dimensions, the audience filter, and their
validation into a `DPQuery` (bad input -> field-level errors, nothing charged)."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

import strawberry

from privacy.dp.epsilon import EpsilonRefused, to_epsilon
from privacy.dp.query import AudienceFilter, AudienceParams, DPQuery, Template
from privacy.vocabulary import Experience, Platform, PriceTier
from resolvers.common.enums import describe_values
from resolvers.common.errors import FieldError
from resolvers.config import DomainConfig


@strawberry.enum(
    description=(
        "Declared dimensions. FEATURE keys are not public: a key is released only when its "
        "noisy user count passes a threshold. SEGMENT keys are the ids of live segments (stored "
        "membership, refreshed by refreshSegmentMembership); a user counts in at most "
        "max_groups_per_user segments."
    )
)
class Dimension(Enum):
    EXPERIENCE = "EXPERIENCE"
    PRICE_TIER = "PRICE_TIER"
    COUNTRY = "COUNTRY"
    PLATFORM = "PLATFORM"
    CATEGORY = "CATEGORY"
    FEATURE = "FEATURE"
    SEGMENT = "SEGMENT"


describe_values(
    Dimension,
    {
        "EXPERIENCE": "The experience tag: NEWBIE, REGULAR or POWER (one key per user).",
        "PRICE_TIER": "The price-tier tag: BUDGET, MID or LUXURY (one key per user).",
        "COUNTRY": "The account's country: a declared country code, or OTHER (one key per user).",
        "PLATFORM": "The account's platform: web, ios or android (one key per user).",
        "CATEGORY": (
            "Declared categories the user bought in (up to max_groups_per_user per user, "
            "largest spend first)."
        ),
        "FEATURE": (
            "App features the user used (up to max_groups_per_user per user, most used "
            "first); keys are not public and are thresholded."
        ),
        "SEGMENT": "Live segments the user is a stored member of (segment ids).",
    },
)


@strawberry.enum(
    description=(
        "Time windows the rollups support: users active (last seen) in the window; order value "
        "is spend inside the window; sessions and funnel stages are lifetime counters."
    )
)
class TimeWindow(Enum):
    LAST_7_DAYS = "LAST_7_DAYS"
    LAST_30_DAYS = "LAST_30_DAYS"
    LAST_90_DAYS = "LAST_90_DAYS"
    LAST_365_DAYS = "LAST_365_DAYS"
    ALL = "ALL"


describe_values(
    TimeWindow,
    {
        "LAST_7_DAYS": "Users last seen in the last 7 days; order value spent in them.",
        "LAST_30_DAYS": "Users last seen in the last 30 days; order value spent in them.",
        "LAST_90_DAYS": "Users last seen in the last 90 days; order value spent in them.",
        "LAST_365_DAYS": "Users last seen in the last 365 days; order value spent in them.",
        "ALL": "Every user, whenever last seen; order value over all time.",
    },
)


@strawberry.enum(description="Metrics with fixed public bins.")
class HistogramMetric(Enum):
    ORDER_VALUE = "ORDER_VALUE"
    SESSIONS = "SESSIONS"


describe_values(
    HistogramMetric,
    {
        "ORDER_VALUE": (
            "A buyer's order value in the window, cents, clamped to the declared maximum; "
            "bins are the configured cent edges."
        ),
        "SESSIONS": "A user's lifetime session count; bins are the configured session edges.",
    },
)


@strawberry.input(description="Filters on declared dimensions; every field is optional.")
class AudienceFilterInput:
    window: TimeWindow = strawberry.field(
        default=TimeWindow.ALL, description="Users active in this window (ALL by default)."
    )
    country: str | None = strawberry.field(default=None, description="A declared country code, or OTHER.")
    platform: Platform | None = strawberry.field(default=None, description="Only users of this platform.")
    experience: Experience | None = strawberry.field(
        default=None, description="Only users with this experience tag."
    )
    price_tier: PriceTier | None = strawberry.field(
        default=None, description="Only users with this price-tier tag."
    )
    category_bought: str | None = strawberry.field(default=None, description="A declared category.")


_EXPERIMENT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


def params_from(config: DomainConfig) -> AudienceParams:
    t, dp = config.tags, config.dp
    return AudienceParams(
        tag_thresholds=(
            t.power_min_sessions,
            t.power_min_features,
            t.power_min_tenure_days,
            t.regular_min_sessions,
            t.newbie_max_tenure_days,
            t.luxury_min_mean_level,
            t.budget_max_mean_level,
        ),
        countries=dp.countries,
        categories=dp.categories,
        order_value_max_cents=dp.order_value_max_cents,
        max_groups=dp.max_groups_per_user,
        order_value_bins=dp.order_value_bins_cents,
        session_bins=dp.session_bins,
        selection_delta=dp.selection_delta,
        min_group_size=dp.min_group_size,
        experiment_min_exposed=dp.experiment_min_exposed,
    )


def _value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _filter(raw: dict[str, Any] | None, config: DomainConfig, errors: list[FieldError]) -> AudienceFilter:
    raw = raw or {}
    country = raw.get("country")
    if country is not None and country not in (*config.dp.countries, "OTHER"):
        errors.append(FieldError(field="filter.country", message="not a declared country"))
    category = raw.get("categoryBought")
    if category is not None and category not in config.dp.categories:
        errors.append(FieldError(field="filter.categoryBought", message="not a declared category"))
    return AudienceFilter(
        window=str(_value(raw.get("window")) or "ALL"),
        country=country,
        platform=_value(raw.get("platform")),
        experience=_value(raw.get("experience")),
        price_tier=_value(raw.get("priceTier")),
        category=category,
    )


def query_from(
    template: Template, raw: dict[str, Any], config: DomainConfig
) -> tuple[DPQuery | None, list[FieldError]]:
    """A validated query from a field's raw GraphQL arguments, or its field errors."""
    errors: list[FieldError] = []
    epsilon = None
    try:
        epsilon = to_epsilon(raw.get("epsilon"), config.dp.per_query_epsilon_cap)
    except EpsilonRefused as exc:
        errors.append(FieldError(field="epsilon", message=str(exc)))
    flt = _filter(raw.get("filter"), config, errors)
    dims: tuple[str, ...] = ()
    if "dimensions" in raw:
        dims = tuple(_value(d) for d in raw["dimensions"])
        if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims):
            errors.append(FieldError(field="dimensions", message="give one or two different dimensions"))
    if "dimension" in raw:
        dims = (_value(raw["dimension"]),)
        if dims[0] in ("FEATURE",):
            errors.append(
                FieldError(field="dimension", message="funnels run over dimensions with public keys")
            )
        elif dims[0] == "SEGMENT":
            errors.append(FieldError(field="dimension", message="funnels do not run over segments"))
    metric = _value(raw.get("metric")) if "metric" in raw else None
    experiment = raw.get("experimentKey") if "experimentKey" in raw else None
    if experiment is not None and (
        not isinstance(experiment, str) or not _EXPERIMENT_KEY.fullmatch(experiment)
    ):
        errors.append(FieldError(field="experimentKey", message="not an experiment key"))
    if errors or epsilon is None:
        return None, errors
    return DPQuery(template, epsilon, flt, dims, metric, experiment), []

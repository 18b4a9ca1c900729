"""Output types of the analyst API, built from stored (JSON) answers so that a cache hit and a
fresh release render identically. Every value carries its noise facts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from resolvers.analytics.args import Dimension, HistogramMetric


@strawberry.type(description="A released value: noisy, with public facts about its noise.")
class DPValue:
    value: float = strawberry.field(description="Integer (count, cents) or rounded to whole cents.")
    mechanism: str = strawberry.field(
        description=(
            "How the value was made noisy: `geometric` (two-sided geometric noise on an "
            "integer), `geometric sum / geometric count` (a mean), `geometric histogram, "
            "median of the noisy CDF` (a median)."
        )
    )
    noise_scale: float = strawberry.field(description="Laplace-equivalent scale (sensitivity / epsilon).")
    ci95_low: float = strawberry.field(
        description="95% interval, from public parameters and released values only."
    )
    ci95_high: float = strawberry.field(description="Upper end of the 95% interval; see `ci95Low`.")
    epsilon: Decimal = strawberry.field(description="Epsilon this value's mechanism used.")
    sensitivity: int | None = strawberry.field(
        description="L1 sensitivity the noise is calibrated to; null for derived values."
    )

    @classmethod
    def of(cls, d: dict[str, Any]) -> DPValue:
        return cls(
            value=float(d["value"]),
            mechanism=str(d["mechanism"]),
            noise_scale=float(d["noise_scale"]),
            ci95_low=float(d["ci_low"]),
            ci95_high=float(d["ci_high"]),
            epsilon=Decimal(str(d["epsilon"])),
            sensitivity=d["sensitivity"],
        )


@strawberry.enum(description="Which cap refused an operation.")
class BudgetScope(Enum):
    SPENDER = strawberry.enum_value("SPENDER", description="Your own budget.")
    DATASET = strawberry.enum_value(
        "DATASET",
        description=(
            "The dataset's cap across all analysts and marketers: the most any one person's data "
            "may be exposed to."
        ),
    )


@strawberry.type(description="A privacy budget would be exceeded; nothing ran and nothing was charged.")
class BudgetExhausted:
    message: str = strawberry.field(description="What was refused, in words.")
    dataset: str = strawberry.field(description="The dataset whose budget was checked.")
    scope: BudgetScope = strawberry.field(
        description="Which cap refused: your own (SPENDER) or the dataset's (DATASET)."
    )
    epsilon_requested: Decimal = strawberry.field(description="Epsilon the whole operation needed.")
    epsilon_remaining: Decimal = strawberry.field(description="What is left of your own budget.")


@strawberry.type(
    description=(
        "The release failed after the charge and before anything was returned (a database error "
        "or timeout, a fault in the noise sampler); the charge for it was refunded."
    )
)
class ReleaseFailed:
    message: str = strawberry.field(description="What happened, in words.")
    epsilon_refunded: Decimal = strawberry.field(
        description=(
            "Epsilon given back to your budget for this field (0 when nothing was charged, or"
            " on a duplicate of the same answer)."
        )
    )
    retryable: bool = strawberry.field(
        description="Whether the same query may succeed when retried (always true today)."
    )


@strawberry.type(description="How many users are in the audience.")
class AudienceCount:
    count: DPValue = strawberry.field(description="Noisy number of users (sensitivity 1).")
    epsilon_charged: Decimal = strawberry.field(description="0 when this answer was already released.")


@strawberry.type(description="Users holding one key (or one pair of keys).")
class AudienceGroup:
    keys: list[str] = strawberry.field(
        description=("The group's key per dimension, in the order of `dimensions` (e.g. ['FR', 'ios']).")
    )
    count: DPValue = strawberry.field(description="Noisy number of users holding the keys.")


@strawberry.type(description="Users per key of one or two dimensions.")
class AudienceBreakdown:
    dimensions: list[Dimension] = strawberry.field(
        description="The dimensions grouped by, in the order of each group's `keys`."
    )
    groups: list[AudienceGroup] = strawberry.field(
        description=(
            "One group per released key combination. With public keys every combination is released, "
            "zeros included (unless a minimum group size is configured); with non-public keys only "
            "those whose noisy count passes `threshold`."
        )
    )
    threshold: int | None = strawberry.field(
        description="Tau for non-public keys (keys below it are not released); null when all keys are public."
    )
    epsilon_charged: Decimal = strawberry.field(
        description=(
            "Epsilon charged to your budget for this answer; 0 when you already paid for it "
            "in the current release period, or when the same answer appears twice in one "
            "operation."
        )
    )


@strawberry.type(description="Total order value of the audience's buyers in the window.")
class OrderValueSum:
    sum: DPValue = strawberry.field(description="Cents; each user's spend clamped to the declared bound.")
    epsilon_charged: Decimal = strawberry.field(
        description=(
            "Epsilon charged to your budget for this answer; 0 when you already paid for it "
            "in the current release period, or when the same answer appears twice in one "
            "operation."
        )
    )


@strawberry.type(description="Mean order value per buyer; epsilon split between the sum and the count.")
class OrderValueMean:
    mean: DPValue = strawberry.field(description="Cents per buyer: noisy sum / noisy buyer count.")
    sum: DPValue = strawberry.field(description="The noisy clamped sum (cents) the mean is made from.")
    count: DPValue = strawberry.field(description="The noisy number of buyers the mean is made from.")
    epsilon_charged: Decimal = strawberry.field(
        description=(
            "Epsilon charged to your budget for this answer; 0 when you already paid for it "
            "in the current release period, or when the same answer appears twice in one "
            "operation."
        )
    )


@strawberry.type(description="One bin: users whose metric is in [lower, upper).")
class HistogramBin:
    lower: int = strawberry.field(
        description="Inclusive lower edge (cents for ORDER_VALUE, sessions for SESSIONS)."
    )
    upper: int | None = strawberry.field(description="Exclusive; null for the open last bin.")
    count: DPValue = strawberry.field(description="Noisy number of users in the bin.")


@strawberry.type(description="Users per fixed public bin of a metric.")
class Histogram:
    metric: HistogramMetric = strawberry.field(description="The metric binned.")
    bins: list[HistogramBin] = strawberry.field(
        description="Every bin, lowest first; the last one is open-ended."
    )
    epsilon_charged: Decimal = strawberry.field(
        description=(
            "Epsilon charged to your budget for this answer; 0 when you already paid for it "
            "in the current release period, or when the same answer appears twice in one "
            "operation."
        )
    )


@strawberry.type(description="Funnel counts for one key.")
class FunnelGroup:
    key: str = strawberry.field(
        description="The key of the funnel's dimension (e.g. a country code or a category)."
    )
    viewed: DPValue = strawberry.field(description="Noisy number of users who viewed an item.")
    added_to_cart: DPValue = strawberry.field(
        description="Noisy number of users who added an item to their cart (at most `viewed`)."
    )
    purchased: DPValue = strawberry.field(
        description="Noisy number of users who purchased (at most `addedToCart`)."
    )


@strawberry.type(description="Users at each stage; post-processed to be monotone and non-negative.")
class Funnel:
    dimension: Dimension = strawberry.field(description="The dimension grouped by.")
    groups: list[FunnelGroup] = strawberry.field(description="One group per public key of the dimension.")
    epsilon_charged: Decimal = strawberry.field(
        description=(
            "Epsilon charged to your budget for this answer; 0 when you already paid for it "
            "in the current release period, or when the same answer appears twice in one "
            "operation."
        )
    )


@strawberry.type(description="Median order value per buyer.")
class MedianOrderValue:
    median: DPValue = strawberry.field(
        description="Cents: the median of the noisy cumulative order-value histogram."
    )
    epsilon_charged: Decimal = strawberry.field(
        description=(
            "Epsilon charged to your budget for this answer; 0 when you already paid for it "
            "in the current release period, or when the same answer appears twice in one "
            "operation."
        )
    )


@strawberry.type(description="An analyst's or marketer's epsilon budget on one dataset.")
class PrivacyBudget:
    dataset: str = strawberry.field(description="The dataset the budget applies to.")
    cap: Decimal = strawberry.field(description="The most epsilon that may be spent in total.")
    spent: Decimal = strawberry.field(description="Epsilon spent so far (charges minus refunds).")
    remaining: Decimal = strawberry.field(description="cap - spent.")


@strawberry.type(
    description="One event of your privacy ledger (append-only): a charge, a refund or a cap change."
)
class LedgerEntry:
    id: strawberry.ID = strawberry.field(description="The event's position in the ledger.")
    kind: str = strawberry.field(
        description="charge, refund or cap_set (a refund gives back a failed release)."
    )
    epsilon: Decimal = strawberry.field(description="Epsilon charged (or refunded, or the new cap).")
    delta: Decimal = strawberry.field(description="Delta charged.")
    queries: int = strawberry.field(description="How many answers the charge (or refund) was for.")
    at: datetime = strawberry.field(description="When it happened.")


@strawberry.type(
    description=(
        "What an operation would charge you; estimating is free. It depends only on the document "
        "and on what you yourself paid for in the current release period, never on what others "
        "asked or on the data."
    )
)
class CostEstimate:
    epsilon: Decimal = strawberry.field(description="Epsilon the operation would charge you now.")
    delta: Decimal = strawberry.field(
        description=(
            "Delta the operation would charge you now (non-zero only for releases over non-public keys)."
        )
    )
    aggregates: int = strawberry.field(description="Aggregate fields that would execute.")
    already_paid: int = strawberry.field(
        description="Of those, answers you already paid for in the current release period (free again)."
    )


def render(template: str, answer: dict[str, Any], charged: Decimal) -> Any:
    """The schema object for a stored answer of `template`."""
    v = DPValue.of
    if template == "distinct_users":
        return AudienceCount(count=v(answer["count"]), epsilon_charged=charged)
    if template == "users_by":
        return AudienceBreakdown(
            dimensions=[Dimension(d) for d in answer["dimensions"]],
            groups=[AudienceGroup(keys=g["keys"], count=v(g["count"])) for g in answer["groups"]],
            threshold=answer["threshold"],
            epsilon_charged=charged,
        )
    if template == "order_value_sum":
        return OrderValueSum(sum=v(answer["sum"]), epsilon_charged=charged)
    if template == "order_value_mean":
        return OrderValueMean(
            mean=v(answer["mean"]), sum=v(answer["sum"]), count=v(answer["count"]), epsilon_charged=charged
        )
    if template == "histogram":
        bins = [HistogramBin(lower=b["lower"], upper=b["upper"], count=v(b["count"])) for b in answer["bins"]]
        return Histogram(metric=HistogramMetric(answer["metric"]), bins=bins, epsilon_charged=charged)
    if template == "funnel":
        groups = [
            FunnelGroup(
                key=g["key"],
                viewed=v(g["viewed"]),
                added_to_cart=v(g["added_to_cart"]),
                purchased=v(g["purchased"]),
            )
            for g in answer["groups"]
        ]
        return Funnel(dimension=Dimension(answer["dimension"]), groups=groups, epsilon_charged=charged)
    if template == "median_order_value":
        return MedianOrderValue(median=v(answer["median"]), epsilon_charged=charged)
    if template in ("experiment_results", "experiment_sizes"):
        return _experiment(answer, charged)
    raise ValueError(f"unknown template {template}")


@strawberry.type(description="An estimate with its 95% interval (DP noise and sampling error together).")
class Estimate:
    value: float = strawberry.field(description="The estimate (post-processing of released values).")
    ci95_low: float = strawberry.field(description="Lower end of the 95% interval.")
    ci95_high: float = strawberry.field(description="Upper end of the 95% interval.")


def _estimate(d: dict[str, Any] | None) -> Estimate | None:
    if d is None:
        return None
    return Estimate(value=float(d["value"]), ci95_low=float(d["ci_low"]), ci95_high=float(d["ci_high"]))


@strawberry.type(description="One metric of one arm of an experiment.")
class ArmMetric:
    metric: str = strawberry.field(
        description=(
            "CONVERSION, OFFER_CLICK_THROUGH, OFFER_REDEMPTION, REVENUE_PER_USER or SESSIONS_PER_USER."
        )
    )
    total: float = strawberry.field(
        description="Noisy sum over the arm's users (conversions, or clamped cents / sessions)."
    )
    per_user: Estimate = strawberry.field(description="Rate or mean per exposed user, with its interval.")
    lift: Estimate | None = strawberry.field(
        description="Relative lift over control (0.2 = +20%); null for control or when undefined."
    )


@strawberry.type(description="One arm (variant) of an experiment.")
class ExperimentArm:
    variant: str = strawberry.field(description="The variant's key; the first arm is control.")
    exposed: DPValue = strawberry.field(description="Noisy count of users exposed to this arm.")
    metrics: list[ArmMetric] = strawberry.field(
        description="Primary metric first, then the guardrails; empty when refused or for sizes."
    )


@strawberry.type(description="Differentially private results of an experiment, per arm.")
class ExperimentResults:
    experiment: str = strawberry.field(description="The experiment's key.")
    version: int = strawberry.field(description="The definition version the answer is of.")
    arms: list[ExperimentArm] = strawberry.field(description="Control first.")
    srm_p_value: float = strawberry.field(
        description="Chi-square p-value of the noisy exposed counts against the declared weights."
    )
    srm_flagged: bool = strawberry.field(
        description="Sample-ratio mismatch (p < 0.001): the allocation is broken, do not trust the lift."
    )
    refused: str | None = strawberry.field(
        description="Why metrics were withheld (an arm below the minimum noisy exposed count)."
    )
    min_exposed: int = strawberry.field(description="The minimum noisy exposed count per arm.")
    epsilon_charged: Decimal = strawberry.field(description="Epsilon charged for this field.")


def _experiment(answer: dict[str, Any], charged: Decimal) -> ExperimentResults:
    arms = [
        ExperimentArm(
            variant=a["variant"],
            exposed=DPValue.of(a["exposed"]),
            metrics=[
                ArmMetric(
                    metric=m["metric"],
                    total=float(m["total"]),
                    per_user=_estimate(m["mean"]) or Estimate(value=0.0, ci95_low=0.0, ci95_high=0.0),
                    lift=_estimate(m["lift"]),
                )
                for m in a["metrics"]
            ],
        )
        for a in answer["arms"]
    ]
    return ExperimentResults(
        experiment=str(answer.get("experiment", "")),
        version=int(answer.get("version", 0)),
        arms=arms,
        srm_p_value=float(answer["srm_p_value"]),
        srm_flagged=bool(answer["srm_flagged"]),
        refused=answer["refused"],
        min_exposed=int(answer["min_exposed"]),
        epsilon_charged=charged,
    )

"""The analyst API (role analyst): fixed DP templates over the audience, never free SQL; and the
marketers' one DP view, segment sizes.

Every aggregate field is charged by the operation-wide plan (resolvers/analytics/plan.py)
before any of them runs; a field then answers from an answer the spender already paid for in
this release slot, from one someone else released in it (paid for like a fresh one), from an
earlier identical field of the same operation, or by running its template once and storing the
released answer. A release that fails after the charge is refunded before the error is returned.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Annotated, Any, TypeVar, cast

import strawberry
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.dp import cache, ledger, templates
from privacy.dp.epsilon import EpsilonRefused, to_cap
from privacy.dp.query import ANALYTICS_PURPOSE, Template
from privacy.principal import Role
from resolvers.analytics.args import AudienceFilterInput, Dimension, HistogramMetric
from resolvers.analytics.plan import (
    NotRegistered,
    Plan,
    PlannedField,
    ReleaseFailure,
    aggregate_fields,
    current_spender,
    plan_operation,
    price,
)
from resolvers.analytics.types import (
    AudienceBreakdown,
    AudienceCount,
    BudgetExhausted,
    BudgetScope,
    CostEstimate,
    ExperimentResults,
    Funnel,
    Histogram,
    LedgerEntry,
    MedianOrderValue,
    OrderValueMean,
    OrderValueSum,
    PrivacyBudget,
    ReleaseFailed,
    render,
)
from resolvers.common import document_limits
from resolvers.common.errors import FieldError, InvalidArgument, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context

log = logging.getLogger("resolvers.analytics")
T = TypeVar("T")
ROLLUPS = ("users", "consents", "user_signals", "user_category_stats")
Analyst = [require(Role.ANALYST)]
Spenders = [require(Role.ANALYST, Role.MARKETER)]


async def _aggregate(
    info: Info[Context, None], template: Template, kind: type[T]
) -> T | BudgetExhausted | InvalidInput | ReleaseFailed:
    ctx = info.context
    plan = await plan_operation(ctx, info)
    pf = plan.fields[str(info.path.key)]
    if pf.query is None:
        return InvalidInput(message="the analytics request was not accepted", errors=pf.errors)
    if plan.refused:
        assert plan.charge is not None
        dataset_wide = plan.charge.outcome in (
            ledger.Outcome.DATASET_EXHAUSTED,
            ledger.Outcome.UNKNOWN_DATASET,
        )
        return BudgetExhausted(
            message=(
                "the dataset's privacy budget across all analysts and marketers is exhausted"
                if dataset_wide
                else "privacy budget exhausted"
            )
            + ": the operation was refused whole and ran no query",
            dataset=ctx.config.dp.dataset,
            scope=BudgetScope.DATASET if dataset_wide else BudgetScope.SPENDER,
            epsilon_requested=plan.cost.epsilon,
            epsilon_remaining=plan.charge.remaining or Decimal(0),
        )
    if pf.received and pf.cached is not None:  # paid for earlier in this release slot
        return cast(T, render(template.value, pf.cached, Decimal(0)))
    async with plan.locks.setdefault(pf.hash, asyncio.Lock()):
        outcome = plan.outcomes.get(pf.hash)
        first = outcome is None
        if outcome is None:
            outcome = await _release(ctx, plan, pf)
            plan.outcomes[pf.hash] = outcome
    if isinstance(outcome, ReleaseFailure):
        return ReleaseFailed(
            message=(
                "the release failed before anything was returned; "
                + ("its charge was refunded" if outcome.refunded else "nothing more was charged")
                + ". Retry the query."
            ),
            epsilon_refunded=outcome.refunded if first else Decimal(0),
            retryable=True,
        )
    # The first field of a query released in this operation reports its charge; duplicates 0.
    return cast(T, render(template.value, outcome, pf.query.epsilon if first else Decimal(0)))


async def _release(ctx: Context, plan: Plan, pf: PlannedField) -> dict[str, Any] | ReleaseFailure:
    """The answer for one query the spender just paid for: someone else's release in this slot,
    or a new one. A failure after the charge refunds this query's share before returning."""
    assert pf.query is not None and plan.slot is not None and plan.charge is not None
    if pf.cached is not None:  # released in this slot already: paid for, nothing to run
        return pf.cached
    try:
        guard = await ctx.guard()
        # Consent is enforced inside the SQL (dp_audience keeps users whose analytics.aggregate
        # consent is granted: users.analytics_consent, kept by triggers on consents);
        # the read is still audited, with no subject: it is an aggregate over many users.
        guard.record(ANALYTICS_PURPOSE, ROLLUPS, None)
        answer = await templates.run(ctx.pool, pf.query, plan.params)
        return await cache.store(
            ctx.pool,
            ctx.config.dp.dataset,
            plan.slot,
            pf.canonical,
            answer,
            pf.query.epsilon,
            plan.charge.event_id,
        )
    except Exception as failure:
        log.warning("release failed after its charge (request %s)", ctx.request_id, exc_info=True)
        share = plan.costs[pf.hash]
        assert plan.charge.event_id is not None
        try:
            done = await ledger.refund(ctx.pool, plan.charge.event_id, pf.hash, share, ctx.request_id)
        except Exception:
            # The refund could not be written (e.g. the database is gone): the charge stays, the
            # conservative side, and the original error reaches the error policy (503 / masked).
            log.exception("refund of a failed release could not be written (request %s)", ctx.request_id)
            raise failure from None
        if done is not ledger.RefundOutcome.REFUNDED:
            log.error("refund refused (%s) for request %s", done.value, ctx.request_id)
        return ReleaseFailure(share.epsilon if done is ledger.RefundOutcome.REFUNDED else Decimal(0))


Filter = Annotated[
    AudienceFilterInput | None,
    strawberry.argument(description="Declared-dimension filters and a time window."),
]
Eps = Annotated[
    float, strawberry.argument(description="Epsilon to spend: > 0 and at most the per-query cap.")
]

DistinctUsersResult = Annotated[
    AudienceCount | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "DistinctUsersResult",
        description=(
            "The count, or BudgetExhausted (nothing ran, nothing charged), InvalidInput (bad "
            "arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
UsersByResult = Annotated[
    AudienceBreakdown | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "UsersByResult",
        description=(
            "The breakdown, or BudgetExhausted (nothing ran, nothing charged), InvalidInput "
            "(bad arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
OrderValueSumResult = Annotated[
    OrderValueSum | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "OrderValueSumResult",
        description=(
            "The sum, or BudgetExhausted (nothing ran, nothing charged), InvalidInput (bad "
            "arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
OrderValueMeanResult = Annotated[
    OrderValueMean | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "OrderValueMeanResult",
        description=(
            "The mean, or BudgetExhausted (nothing ran, nothing charged), InvalidInput (bad "
            "arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
HistogramResult = Annotated[
    Histogram | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "HistogramResult",
        description=(
            "The histogram, or BudgetExhausted (nothing ran, nothing charged), InvalidInput "
            "(bad arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
FunnelResult = Annotated[
    Funnel | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "FunnelResult",
        description=(
            "The funnel, or BudgetExhausted (nothing ran, nothing charged), InvalidInput (bad"
            " arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
MedianResult = Annotated[
    MedianOrderValue | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "MedianOrderValueResult",
        description=(
            "The median, or BudgetExhausted (nothing ran, nothing charged), InvalidInput (bad"
            " arguments, nothing charged) or ReleaseFailed (the charge was refunded)."
        ),
    ),
]
CostResult = Annotated[
    CostEstimate | InvalidInput,
    strawberry.union(
        "CostEstimateResult",
        description=(
            "The estimate, or InvalidInput when the document does not parse, validate or name"
            " exactly one operation, or its variables are bad."
        ),
    ),
]
SetBudgetResult = Annotated[
    PrivacyBudget | InvalidInput,
    strawberry.union(
        "SetPrivacyBudgetResult",
        description=(
            "The budget now in effect, or InvalidInput (unknown analyst or dataset, bad cap, "
            "cap below what is spent)."
        ),
    ),
]
ExperimentResultsResult = Annotated[
    ExperimentResults | BudgetExhausted | InvalidInput | ReleaseFailed,
    strawberry.union(
        "ExperimentResultsResult",
        description=(
            "The results (or sizes), or BudgetExhausted (nothing ran, nothing charged), InvalidInput "
            "(bad arguments or no such experiment, nothing charged) or ReleaseFailed (refunded)."
        ),
    ),
]
ExperimentKey = Annotated[str, strawberry.argument(description="The experiment's key.")]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(permission_classes=Analyst, description="Users in the audience (sensitivity 1).")
    async def distinct_users(
        self, info: Info[Context, None], epsilon: Eps, filter: Filter = None
    ) -> DistinctUsersResult:
        return await _aggregate(info, Template.DISTINCT_USERS, AudienceCount)

    @strawberry.field(permission_classes=Analyst, description="Users per key of one or two dimensions.")
    async def users_by(
        self,
        info: Info[Context, None],
        dimensions: Annotated[
            list[Dimension], strawberry.argument(description="One or two different dimensions to group by.")
        ],
        epsilon: Eps,
        filter: Filter = None,
    ) -> UsersByResult:
        return await _aggregate(info, Template.USERS_BY, AudienceBreakdown)

    @strawberry.field(permission_classes=Analyst, description="Sum of per-user clamped order value (cents).")
    async def order_value_sum(
        self, info: Info[Context, None], epsilon: Eps, filter: Filter = None
    ) -> OrderValueSumResult:
        return await _aggregate(info, Template.ORDER_VALUE_SUM, OrderValueSum)

    @strawberry.field(
        permission_classes=Analyst,
        description="Mean order value per buyer; epsilon is split between sum and count.",
    )
    async def order_value_mean(
        self, info: Info[Context, None], epsilon: Eps, filter: Filter = None
    ) -> OrderValueMeanResult:
        return await _aggregate(info, Template.ORDER_VALUE_MEAN, OrderValueMean)

    @strawberry.field(permission_classes=Analyst, description="Users per fixed bin of a metric.")
    async def histogram(
        self,
        info: Info[Context, None],
        metric: Annotated[HistogramMetric, strawberry.argument(description="The metric to bin.")],
        epsilon: Eps,
        filter: Filter = None,
    ) -> HistogramResult:
        return await _aggregate(info, Template.HISTOGRAM, Histogram)

    @strawberry.field(
        permission_classes=Analyst, description="view -> add_to_cart -> purchase users per key."
    )
    async def funnel(
        self,
        info: Info[Context, None],
        dimension: Annotated[
            Dimension,
            strawberry.argument(description="One dimension with public keys (not FEATURE or SEGMENT)."),
        ],
        epsilon: Eps,
        filter: Filter = None,
    ) -> FunnelResult:
        return await _aggregate(info, Template.FUNNEL, Funnel)

    @strawberry.field(
        permission_classes=Analyst, description="Median order value per buyer, from a DP histogram."
    )
    async def median_order_value(
        self, info: Info[Context, None], epsilon: Eps, filter: Filter = None
    ) -> MedianResult:
        return await _aggregate(info, Template.MEDIAN_ORDER_VALUE, MedianOrderValue)

    @strawberry.field(
        permission_classes=[require(Role.MARKETER)],
        description=(
            "Users per live segment, differentially private and charged to your own budget (the "
            "same release as usersBy(dimensions: [SEGMENT])). Marketers never get exact counts."
        ),
    )
    async def segment_sizes(self, info: Info[Context, None], epsilon: Eps) -> UsersByResult:
        return await _aggregate(info, Template.USERS_BY, AudienceBreakdown)

    @strawberry.field(
        permission_classes=Analyst,
        description=(
            "An experiment's results per arm, differentially private: noisy exposed users, each "
            "metric per user with a 95% interval (DP noise and sampling error), the lift over "
            "control, a sample-ratio-mismatch check; metrics are withheld below a minimum noisy "
            "exposed count. Charged once per release period like every template."
        ),
    )
    async def experiment_results(
        self, info: Info[Context, None], experiment_key: ExperimentKey, epsilon: Eps
    ) -> ExperimentResultsResult:
        return await _aggregate(info, Template.EXPERIMENT_RESULTS, ExperimentResults)

    @strawberry.field(
        permission_classes=[require(Role.MARKETER)],
        description=(
            "Noisy exposed users per arm of an experiment, charged to your own budget. Marketers "
            "never get exact counts nor metrics."
        ),
    )
    async def experiment_sizes(
        self, info: Info[Context, None], experiment_key: ExperimentKey, epsilon: Eps
    ) -> ExperimentResultsResult:
        return await _aggregate(info, Template.EXPERIMENT_SIZES, ExperimentResults)

    @strawberry.field(
        permission_classes=Analyst,
        description=(
            "What a GraphQL document would charge you: every answer you have not paid for in the "
            "current release period costs its epsilon, whoever asked it before. Free."
        ),
    )
    async def estimate_cost(
        self,
        info: Info[Context, None],
        query: Annotated[str, strawberry.argument(description="The GraphQL document to price.")],
        variables: Annotated[
            JSON | None, strawberry.argument(description="Its variables, as a JSON object.")
        ] = None,
        operation_name: Annotated[
            str | None,
            strawberry.argument(description="The operation to price when the document has several."),
        ] = None,
    ) -> CostResult:
        spender = await current_spender(info.context)
        schema = info._raw_info.schema
        limits = info.context.config.limits
        try:
            document = parse(query, **document_limits.parse_options(limits))
        except GraphQLError as exc:
            return InvalidInput(
                message="the document does not parse", errors=[FieldError(field="query", message=exc.message)]
            )
        hide = info.schema.config.disable_field_suggestions
        problems = document_limits.validate(schema, document, limits, hide_suggestions=hide)
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [o for o in ops if operation_name is None or (o.name and o.name.value == operation_name)]
        if problems or len(chosen) != 1:
            messages = [p.message for p in problems] or ["name exactly one operation"]
            return InvalidInput(
                message="the document is not valid",
                errors=[FieldError(field="query", message=m) for m in messages],
            )
        op = chosen[0]
        coerced = get_variable_values(
            schema, op.variable_definitions or (), dict(variables) if isinstance(variables, dict) else {}
        )
        if isinstance(coerced, list):
            return InvalidInput(
                message="bad variables",
                errors=[FieldError(field="variables", message=e.message) for e in coerced],
            )
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        fields = aggregate_fields(schema, op, fragments, coerced, info.context.principal.role)
        priced = await price(info.context, fields, spender)
        valid = [pf for pf in priced.fields.values() if pf.query is not None]
        return CostEstimate(
            epsilon=priced.cost.epsilon,
            delta=priced.cost.delta,
            aggregates=len(valid),
            already_paid=sum(1 for pf in valid if pf.received),
        )

    @strawberry.field(permission_classes=Spenders, description="Your own privacy ledger, newest first.")
    async def privacy_ledger(
        self,
        info: Info[Context, None],
        limit: Annotated[int, strawberry.argument(description="At most this many events (1..200).")] = 20,
    ) -> list[LedgerEntry]:
        ctx = info.context
        if not 1 <= limit <= 200:
            raise InvalidArgument("limit: must be between 1 and 200")
        spender = await current_spender(ctx)
        found = await ledger.entries(ctx.pool, spender.spender_id, ctx.config.dp.dataset, limit)
        return [
            LedgerEntry(
                id=strawberry.ID(str(e.event_id)), kind=e.kind, epsilon=e.epsilon, delta=e.delta,
                queries=e.queries, at=e.at,
            )
            for e in found
        ]  # fmt: skip

    @strawberry.field(permission_classes=Spenders, description="Your privacy budget on the audience dataset.")
    async def privacy_budget(self, info: Info[Context, None]) -> PrivacyBudget:
        ctx = info.context
        spender = await current_spender(ctx)
        await plan_operation(ctx, info)  # show the budget after this operation's own charge
        b = await ledger.budget(ctx.pool, spender, ctx.config.dp.dataset)
        if b is None:
            raise NotRegistered("no budget on this dataset: an admin gives it (createAnalyst)")
        return PrivacyBudget(dataset=b.dataset, cap=b.cap, spent=b.spent, remaining=b.remaining)


@strawberry.type
class AnalyticsMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.ADMIN)],
        description=(
            "Set a registered analyst's or marketer's epsilon cap on a dataset (never below what "
            "is spent). Nobody gets a budget this way: createAnalyst registers them."
        ),
    )
    async def set_privacy_budget(
        self,
        info: Info[Context, None],
        analyst_id: Annotated[
            str,
            strawberry.argument(
                description="The registered analyst's or marketer's id (their token's `sub`)."
            ),
        ],
        dataset: Annotated[
            str, strawberry.argument(description="The dataset (the audience dataset's name).")
        ],
        cap: Annotated[
            float, strawberry.argument(description="The new epsilon cap; not below what they already spent.")
        ],
    ) -> SetBudgetResult:
        ctx = info.context
        errors: list[FieldError] = []
        value = Decimal(0)
        try:
            value = to_cap(cap)
        except EpsilonRefused as exc:
            errors.append(FieldError(field="cap", message=str(exc)))
        if dataset != ctx.config.dp.dataset:
            errors.append(FieldError(field="dataset", message="unknown dataset"))
        if not analyst_id.strip() or "\x00" in analyst_id:
            errors.append(FieldError(field="analystId", message="must not be empty"))
        if errors:
            return InvalidInput(message="the budget was not changed", errors=errors)
        b = await ledger.set_cap(ctx.pool, analyst_id, dataset, value, ctx.request_id, ctx.principal.label)
        if b is ledger.CapRefused.UNKNOWN:
            return InvalidInput(
                message="the budget was not changed",
                errors=[FieldError(field="analystId", message="no such analyst or marketer (createAnalyst)")],
            )
        if isinstance(b, ledger.CapRefused):
            return InvalidInput(
                message="the budget was not changed",
                errors=[FieldError(field="cap", message="below what the analyst already spent")],
            )
        return PrivacyBudget(dataset=b.dataset, cap=b.cap, spent=b.spent, remaining=b.remaining)

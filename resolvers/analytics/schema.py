"""The analyst API (role analyst): fixed DP templates over the audience, never free SQL.

Every aggregate field is charged by the operation-wide plan (resolvers/analytics_plan.py)
before any of them runs; a field then answers from the cache, from an earlier identical field
of the same operation, or by running its template once and storing the released answer.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, TypeVar, cast

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
from resolvers.analytics.plan import aggregate_fields, analyst_id, plan_operation, price
from resolvers.analytics.types import (
    AudienceBreakdown,
    AudienceCount,
    BudgetExhausted,
    CostEstimate,
    Funnel,
    Histogram,
    LedgerEntry,
    MedianOrderValue,
    OrderValueMean,
    OrderValueSum,
    PrivacyBudget,
    render,
)
from resolvers.common import document_limits
from resolvers.common.errors import FieldError, InvalidArgument, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context

T = TypeVar("T")
ROLLUPS = ("users", "consents", "user_signals", "user_category_stats")
Analyst = [require(Role.ANALYST)]


async def _aggregate(
    info: Info[Context, None], template: Template, kind: type[T]
) -> T | BudgetExhausted | InvalidInput:
    ctx = info.context
    plan = await plan_operation(ctx, info)
    pf = plan.fields[str(info.path.key)]
    if pf.query is None:
        return InvalidInput(message="the analytics request was not accepted", errors=pf.errors)
    if plan.refused:
        return BudgetExhausted(
            message="privacy budget exhausted: the operation was refused whole and ran no query",
            dataset=ctx.config.dp.dataset,
            epsilon_requested=plan.epsilon,
            epsilon_remaining=plan.remaining,
        )
    if pf.cached is not None:
        return cast(T, render(template.value, pf.cached, Decimal(0)))
    async with plan.locks.setdefault(pf.hash, asyncio.Lock()):
        if pf.hash in plan.released:  # the same query twice in one operation: released once
            return cast(T, render(template.value, plan.released[pf.hash], Decimal(0)))
        guard = await ctx.guard()
        # Consent is enforced inside the SQL (dp_audience joins analytics.aggregate consents);
        # the read is still audited, with no subject: it is an aggregate over many users.
        guard.record(ANALYTICS_PURPOSE, ROLLUPS, None)
        answer = await templates.run(ctx.pool, pf.query, plan.params)
        stored = await cache.store(
            ctx.pool, ctx.config.dp.dataset, plan.data_version, pf.canonical, answer, pf.query.epsilon
        )
        plan.released[pf.hash] = stored
    return cast(T, render(template.value, stored, pf.query.epsilon))


Filter = Annotated[
    AudienceFilterInput | None,
    strawberry.argument(description="Declared-dimension filters and a time window."),
]
Eps = Annotated[
    float, strawberry.argument(description="Epsilon to spend: > 0 and at most the per-query cap.")
]

DistinctUsersResult = Annotated[
    AudienceCount | BudgetExhausted | InvalidInput, strawberry.union("DistinctUsersResult")
]
UsersByResult = Annotated[
    AudienceBreakdown | BudgetExhausted | InvalidInput, strawberry.union("UsersByResult")
]
OrderValueSumResult = Annotated[
    OrderValueSum | BudgetExhausted | InvalidInput, strawberry.union("OrderValueSumResult")
]
OrderValueMeanResult = Annotated[
    OrderValueMean | BudgetExhausted | InvalidInput, strawberry.union("OrderValueMeanResult")
]
HistogramResult = Annotated[Histogram | BudgetExhausted | InvalidInput, strawberry.union("HistogramResult")]
FunnelResult = Annotated[Funnel | BudgetExhausted | InvalidInput, strawberry.union("FunnelResult")]
MedianResult = Annotated[
    MedianOrderValue | BudgetExhausted | InvalidInput, strawberry.union("MedianOrderValueResult")
]
CostResult = Annotated[CostEstimate | InvalidInput, strawberry.union("CostEstimateResult")]
SetBudgetResult = Annotated[PrivacyBudget | InvalidInput, strawberry.union("SetPrivacyBudgetResult")]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(permission_classes=Analyst, description="Users in the audience (sensitivity 1).")
    async def distinct_users(
        self, info: Info[Context, None], epsilon: Eps, filter: Filter = None
    ) -> DistinctUsersResult:
        return await _aggregate(info, Template.DISTINCT_USERS, AudienceCount)

    @strawberry.field(permission_classes=Analyst, description="Users per key of one or two dimensions.")
    async def users_by(
        self, info: Info[Context, None], dimensions: list[Dimension], epsilon: Eps, filter: Filter = None
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
        self, info: Info[Context, None], metric: HistogramMetric, epsilon: Eps, filter: Filter = None
    ) -> HistogramResult:
        return await _aggregate(info, Template.HISTOGRAM, Histogram)

    @strawberry.field(
        permission_classes=Analyst, description="view -> add_to_cart -> purchase users per key."
    )
    async def funnel(
        self, info: Info[Context, None], dimension: Dimension, epsilon: Eps, filter: Filter = None
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
        permission_classes=Analyst,
        description="What a GraphQL document would charge (answers already released cost 0). Free.",
    )
    async def estimate_cost(
        self,
        info: Info[Context, None],
        query: str,
        variables: JSON | None = None,
        operation_name: str | None = None,
    ) -> CostResult:
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
        fields = aggregate_fields(schema, op, fragments, coerced)
        planned, _, _, epsilon, delta = await price(info.context, fields)
        valid = [pf for pf in planned.values() if pf.query is not None]
        return CostEstimate(
            epsilon=epsilon,
            delta=delta,
            aggregates=len(valid),
            cached=sum(1 for pf in valid if pf.cached is not None),
        )

    @strawberry.field(permission_classes=Analyst, description="Your own privacy ledger, newest first.")
    async def privacy_ledger(
        self,
        info: Info[Context, None],
        limit: Annotated[int, strawberry.argument(description="At most this many events (1..200).")] = 20,
    ) -> list[LedgerEntry]:
        ctx = info.context
        if not 1 <= limit <= 200:
            raise InvalidArgument("limit: must be between 1 and 200")
        found = await ledger.entries(ctx.pool, analyst_id(ctx), ctx.config.dp.dataset, limit)
        return [
            LedgerEntry(
                id=strawberry.ID(str(e.event_id)), kind=e.kind, epsilon=e.epsilon, delta=e.delta,
                queries=e.queries, at=e.at,
            )
            for e in found
        ]  # fmt: skip

    @strawberry.field(permission_classes=Analyst, description="Your privacy budget on the audience dataset.")
    async def privacy_budget(self, info: Info[Context, None]) -> PrivacyBudget:
        ctx = info.context
        cfg = ctx.config.dp
        await plan_operation(ctx, info)  # show the budget after this operation's own charge
        b = await ledger.budget(ctx.pool, analyst_id(ctx), cfg.dataset, _defaults(ctx))
        return PrivacyBudget(dataset=b.dataset, cap=b.cap, spent=b.spent, remaining=b.remaining)


def _defaults(ctx: Context) -> ledger.Defaults:
    return ledger.Defaults(ctx.config.dp.default_epsilon_cap, ctx.config.dp.default_delta_cap)


@strawberry.type
class AnalyticsMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.ADMIN)],
        description="Set an analyst's epsilon cap on a dataset (never below what is spent).",
    )
    async def set_privacy_budget(
        self, info: Info[Context, None], analyst_id: str, dataset: str, cap: float
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
        if not analyst_id.strip():
            errors.append(FieldError(field="analystId", message="must not be empty"))
        if errors:
            return InvalidInput(message="the budget was not changed", errors=errors)
        b = await ledger.set_cap(ctx.pool, analyst_id, dataset, value, _defaults(ctx), ctx.request_id)
        if b is None:
            return InvalidInput(
                message="the budget was not changed",
                errors=[FieldError(field="cap", message="below what the analyst already spent")],
            )
        return PrivacyBudget(dataset=b.dataset, cap=b.cap, spent=b.spent, remaining=b.remaining)

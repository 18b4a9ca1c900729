"""Operation-wide charging: the first aggregate field of an operation plans the whole operation.

The plan walks the operation's document (fragments, inline fragments and aliases expanded,
@skip/@include honoured) to find every aggregate field that will execute, subtracts answers
already released (cache hits, and duplicates inside the operation), and charges the rest in one
atomic ledger update. If the ledger refuses, every aggregate field of the operation answers
`BudgetExhausted` and no data query runs: all or nothing. The plan lives in the per-request
memo, so it is built exactly once per operation, before any aggregate runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from strawberry.extensions import AddValidationRules

from privacy import telemetry
from privacy.dp import cache, ledger
from privacy.dp.query import AudienceParams, DPQuery, Template
from resolvers.analytics.args import params_from, query_from
from resolvers.common.errors import FieldError
from resolvers.context import Context
from sql import load_queries

Q = load_queries()

AGGREGATE_FIELDS: dict[str, Template] = {
    "distinctUsers": Template.DISTINCT_USERS,
    "usersBy": Template.USERS_BY,
    "orderValueSum": Template.ORDER_VALUE_SUM,
    "orderValueMean": Template.ORDER_VALUE_MEAN,
    "histogram": Template.HISTOGRAM,
    "funnel": Template.FUNNEL,
    "medianOrderValue": Template.MEDIAN_ORDER_VALUE,
}
SEED_NAMES = frozenset({"seed", "random_state", "randomState", "randomSeed", "random_seed"})


class RefuseSeedArguments(ValidationRule):
    """No request may carry a seed: noise comes from a secure source the caller cannot steer."""

    def _refuse(self, name: str, node: Any) -> None:
        if name in SEED_NAMES:
            self.report_error(
                GraphQLError(
                    f"'{name}' is refused: differentially private noise is drawn from a secure "
                    "random source and no request may choose or replay it",
                    node,
                )
            )

    def enter_argument(self, node: Any, *_: Any) -> None:
        self._refuse(node.name.value, node)

    def enter_variable_definition(self, node: Any, *_: Any) -> None:
        self._refuse(node.variable.name.value, node)


class RefuseSeeds(AddValidationRules):
    """Schema extension (register the class in build_schema) adding RefuseSeedArguments."""

    def __init__(self) -> None:
        super().__init__([RefuseSeedArguments])


@dataclass
class PlannedField:
    query: DPQuery | None
    errors: list[FieldError]
    hash: str = ""
    canonical: str = ""
    cached: dict[str, Any] | None = None


@dataclass
class Plan:
    fields: dict[str, PlannedField]
    params: AudienceParams
    data_version: int
    epsilon: Decimal
    delta: Decimal
    refused: bool = False
    remaining: Decimal = Decimal(0)
    # Answers released during this operation, by query hash (duplicates share one release).
    released: dict[str, dict[str, Any]] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


def _included(node: FieldNode | FragmentSpreadNode | InlineFragmentNode, variables: VariableValues) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include.get("if") is False)


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: VariableValues,
    seen: frozenset[str] = frozenset(),
) -> Iterator[FieldNode]:
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if _included(sel, variables):
                yield sel
        elif isinstance(sel, InlineFragmentNode):
            if _included(sel, variables):
                yield from _root_fields(sel.selection_set, fragments, variables, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in seen or name not in fragments or not _included(sel, variables):
                continue
            yield from _root_fields(fragments[name].selection_set, fragments, variables, seen | {name})


def aggregate_fields(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: VariableValues,
) -> dict[str, tuple[Template, dict[str, Any]]]:
    """Every aggregate field that will execute, by response key (alias or name)."""
    found: dict[str, tuple[Template, dict[str, Any]]] = {}
    if operation.operation is not OperationType.QUERY or schema.query_type is None:
        return found
    for node in _root_fields(operation.selection_set, fragments, variables):
        template = AGGREGATE_FIELDS.get(node.name.value)
        if template is None:
            continue
        key = node.alias.value if node.alias else node.name.value
        definition = schema.query_type.fields[node.name.value]
        found.setdefault(key, (template, get_argument_values(definition, node, variables)))
    return found


async def audience_params(ctx: Context) -> AudienceParams:
    """The public parameters of this operation's releases; the SEGMENT key set is the live
    segments (public configuration, so loading it spends nothing)."""
    rows = await ctx.pool.fetch(Q.live_segment_keys)
    return replace(params_from(ctx.config), segments=tuple(r["key"] for r in rows))


async def price(
    ctx: Context, fields: Mapping[str, tuple[Template, dict[str, Any]]]
) -> tuple[dict[str, PlannedField], AudienceParams, int, Decimal, Decimal]:
    """Validate and price each field: (planned fields, params, data version, epsilon, delta)."""
    cfg = ctx.config.dp
    params = await audience_params(ctx)
    planned: dict[str, PlannedField] = {}
    for key, (template, raw) in fields.items():
        q, errors = query_from(template, raw, ctx.config)
        pf = PlannedField(q, errors)
        if q is not None:
            pf.canonical = q.canonical(params)
            pf.hash = cache.query_hash(pf.canonical)
        planned[key] = pf
    hashes = sorted({pf.hash for pf in planned.values() if pf.query is not None})
    version, hits = await cache.lookup(ctx.pool, cfg.dataset, hashes)
    epsilon, delta, counted = Decimal(0), Decimal(0), set()
    for pf in planned.values():
        if pf.query is None:
            continue
        pf.cached = hits.get(pf.hash)
        if pf.cached is None and pf.hash not in counted:
            counted.add(pf.hash)
            epsilon += pf.query.epsilon
            delta += pf.query.delta(params)
    return planned, params, version, epsilon, delta


async def plan_operation(ctx: Context, info: Any) -> Plan:
    """The operation's plan, built and charged once (on first use) under a per-request lock."""
    lock: asyncio.Lock = ctx.memo.setdefault("dp_plan_lock", asyncio.Lock())
    async with lock:
        existing: Plan | None = ctx.memo.get("dp_plan")
        if existing is not None:
            return existing
        raw = info._raw_info
        variables = raw.variable_values
        if not isinstance(variables, VariableValues):  # the executor hands resolvers a plain dict
            variables = VariableValues(sources={}, coerced=dict(variables))
        fields = aggregate_fields(raw.schema, raw.operation, raw.fragments, variables)
        planned, params, version, epsilon, delta = await price(ctx, fields)
        plan = Plan(planned, params, version, epsilon, delta)
        if epsilon > 0 or delta > 0:
            cfg = ctx.config.dp
            analyst = analyst_id(ctx)
            defaults = ledger.Defaults(cfg.default_epsilon_cap, cfg.default_delta_cap)
            hashes = sorted({pf.hash for pf in planned.values() if pf.query and pf.cached is None})
            result = await ledger.charge(
                ctx.pool, analyst, cfg.dataset, epsilon, delta, defaults, ctx.request_id, hashes
            )
            plan.refused = not result.charged
            plan.remaining = result.remaining
            if result.charged:
                telemetry.record_budget_spent(float(epsilon), cfg.dataset)
            else:
                telemetry.record_budget_refused()
        ctx.memo["dp_plan"] = plan
        return plan


def analyst_id(ctx: Context) -> str:
    subject = ctx.principal.subject
    if not subject:
        from resolvers.common.errors import Forbidden

        raise Forbidden("an analyst token must name its analyst")
    return subject

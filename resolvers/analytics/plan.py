"""Operation-wide charging: the first aggregate field of an operation plans the whole operation.

The plan walks the operation's document (fragments, inline fragments and aliases expanded,
@skip/@include honoured) to find every aggregate field that will execute, leaves out answers
the spender already paid for in the current release slot (and duplicates inside the
operation), and charges the rest in one ledger call, to the spender and, for answers not yet
released in the slot, to the dataset's cap across all spenders. If the ledger refuses, every
aggregate field of the operation answers `BudgetExhausted` and no data query runs: all or
nothing. The plan lives in the per-request memo, so it is built exactly once per operation,
before any aggregate runs. Only a spender an admin registered gets a plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, cast

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
from privacy.principal import Role
from resolvers.analytics.args import params_from, query_from
from resolvers.common.errors import FieldError, Forbidden
from resolvers.context import Context
from sql import load_queries

Q = load_queries()

# Root field -> (template, arguments the field fixes). segmentSizes is the marketers' view of
# usersBy(dimensions: [SEGMENT]): the same release, so it shares that query's cache entry.
AGGREGATE_FIELDS: dict[str, tuple[Template, dict[str, Any]]] = {
    "distinctUsers": (Template.DISTINCT_USERS, {}),
    "usersBy": (Template.USERS_BY, {}),
    "orderValueSum": (Template.ORDER_VALUE_SUM, {}),
    "orderValueMean": (Template.ORDER_VALUE_MEAN, {}),
    "histogram": (Template.HISTOGRAM, {}),
    "funnel": (Template.FUNNEL, {}),
    "medianOrderValue": (Template.MEDIAN_ORDER_VALUE, {}),
    "segmentSizes": (Template.USERS_BY, {"dimensions": ["SEGMENT"]}),
    "experimentResults": (Template.EXPERIMENT_RESULTS, {}),
    "experimentSizes": (Template.EXPERIMENT_SIZES, {}),
}
# Who may run each aggregate field (its permission class says the same): a field the caller may
# not run is never priced nor charged, even when the operation also holds fields they may run.
FIELD_ROLES: dict[str, Role] = {name: Role.ANALYST for name in AGGREGATE_FIELDS} | {
    "segmentSizes": Role.MARKETER,
    "experimentSizes": Role.MARKETER,
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
    cached: dict[str, Any] | None = None  # the answer released in this slot, whoever paid for it
    received: bool = False  # the spender already paid for that answer in this slot: free


@dataclass(frozen=True, slots=True)
class ReleaseFailure:
    """A release that failed after the charge; its share was refunded (or, when the refund could
    not be written, kept: the conservative side)."""

    refunded: Decimal


@dataclass
class Plan:
    fields: dict[str, PlannedField]
    params: AudienceParams
    slot: cache.Slot | None
    cost: ledger.Cost
    # The share of the charge of each answer the spender pays for, by query hash.
    costs: dict[str, ledger.Cost] = field(default_factory=dict)
    charge: ledger.Charge | None = None
    # How each answer of this operation came out (released answer or failure), by query hash:
    # duplicates inside the operation share one release.
    outcomes: dict[str, dict[str, Any] | ReleaseFailure] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.charge is not None and not self.charge.charged


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
    role: Role,
) -> dict[str, tuple[Template, dict[str, Any]]]:
    """Every aggregate field that will execute for `role`, by response key (alias or name)."""
    found: dict[str, tuple[Template, dict[str, Any]]] = {}
    if operation.operation is not OperationType.QUERY or schema.query_type is None:
        return found
    for node in _root_fields(operation.selection_set, fragments, variables):
        entry = AGGREGATE_FIELDS.get(node.name.value)
        if entry is None or FIELD_ROLES[node.name.value] is not role:
            continue
        template, fixed = entry
        key = node.alias.value if node.alias else node.name.value
        definition = schema.query_type.fields[node.name.value]
        found.setdefault(key, (template, {**get_argument_values(definition, node, variables), **fixed}))
    return found


async def audience_params(ctx: Context) -> AudienceParams:
    """The public parameters of this operation's releases; the SEGMENT key set is the live
    segments (public configuration, so loading it spends nothing)."""
    rows = await ctx.pool.fetch(Q.live_segment_keys)
    return replace(params_from(ctx.config), segments=tuple(r["key"] for r in rows))


@dataclass
class Priced:
    fields: dict[str, PlannedField]
    params: AudienceParams
    slot: cache.Slot | None
    cost: ledger.Cost
    costs: dict[str, ledger.Cost]


async def price(
    ctx: Context, fields: Mapping[str, tuple[Template, dict[str, Any]]], spender: ledger.Spender
) -> Priced:
    """Validate and price each field. The spender pays epsilon for every answer they have not
    paid for in the current slot, whether or not someone else has (so the price tells them
    nothing about others); the dataset pays only for answers not yet released in the slot."""
    params = params_from(ctx.config)
    planned: dict[str, PlannedField] = {}
    if not fields:
        return Priced(planned, params, None, ledger.Cost(), {})
    cfg = ctx.config.dp
    params = await audience_params(ctx)
    for key, (template, raw) in fields.items():
        q, errors = query_from(template, raw, ctx.config)
        if q is not None and q.experiment is not None:
            # The answer is of the experiment's current definition version (public configuration).
            version = await ctx.pool.fetchval(Q.experiment_version, q.experiment)
            if version is None:
                q, errors = None, [FieldError(field="experimentKey", message="no such experiment")]
            else:
                q = replace(q, experiment_version=int(version))
        pf = PlannedField(q, errors)
        if q is not None:
            pf.canonical = q.canonical(params)
            pf.hash = cache.query_hash(pf.canonical)
        planned[key] = pf
    hashes = sorted({pf.hash for pf in planned.values() if pf.query is not None})
    slot, hits = await cache.lookup(ctx.pool, cfg.dataset, spender.spender_id, hashes, cfg.release_period_s)
    total, costs = ledger.Cost(), {}
    for pf in planned.values():
        if pf.query is None:
            continue
        hit = hits.get(pf.hash)
        pf.cached = hit.answer if hit else None
        pf.received = bool(hit and hit.received)
        if pf.received or pf.hash in costs:
            continue
        eps, delta = pf.query.epsilon, pf.query.delta(params)
        share = (
            ledger.Cost(eps, delta, Decimal(0), Decimal(0)) if hit else ledger.Cost(eps, delta, eps, delta)
        )
        costs[pf.hash] = share
        total += share
    return Priced(planned, params, slot, total, costs)


async def plan_operation(ctx: Context, info: Any) -> Plan:
    """The operation's plan, built and charged once (on first use) under a per-request lock."""
    lock: asyncio.Lock = ctx.memo.setdefault("dp_plan_lock", asyncio.Lock())
    async with lock:
        existing: Plan | None = ctx.memo.get("dp_plan")
        if existing is not None:
            return existing
        spender = await current_spender(ctx)
        raw = info._raw_info
        variables = raw.variable_values
        if not isinstance(variables, VariableValues):  # the executor hands resolvers a plain dict
            variables = VariableValues(sources={}, coerced=dict(variables))
        fields = aggregate_fields(raw.schema, raw.operation, raw.fragments, variables, ctx.principal.role)
        priced = await price(ctx, fields, spender)
        plan = Plan(priced.fields, priced.params, priced.slot, priced.cost, priced.costs)
        if not priced.cost.is_free and priced.slot is not None:
            cfg = ctx.config.dp
            result = await ledger.charge(
                ctx.pool, spender, cfg.dataset, priced.cost, ctx.request_id, sorted(priced.costs),
                priced.slot.key(),
            )  # fmt: skip
            if result.outcome is ledger.Outcome.UNKNOWN_SPENDER:  # removed since current_spender
                raise NotRegistered(_UNREGISTERED.format(role=spender.role.value, id=spender.spender_id))
            plan.charge = result
            if result.charged:
                telemetry.record_budget_spent(float(priced.cost.epsilon), cfg.dataset)
            else:
                telemetry.record_budget_refused()
        ctx.memo["dp_plan"] = plan
        return plan


class NotRegistered(Forbidden):
    """A token whose subject no admin registered as an analyst or marketer of its role."""

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": "FORBIDDEN"}


_UNREGISTERED = (
    "{role} '{id}' is not registered: an admin creates analysts and marketers (createAnalyst) "
    "and gives them their budget"
)
SPENDER_ROLES = {Role.ANALYST: ledger.SpenderRole.ANALYST, Role.MARKETER: ledger.SpenderRole.MARKETER}


async def current_spender(ctx: Context) -> ledger.Spender:
    """The registered spender behind this request (checked once per operation); Forbidden for a
    token whose subject no admin registered in that role."""
    memo = ctx.memo.get("dp_spender")
    if isinstance(memo, NotRegistered):
        raise memo
    if memo is not None:
        return cast(ledger.Spender, memo)
    subject = ctx.principal.subject
    role = SPENDER_ROLES.get(ctx.principal.role)
    if not subject or role is None:
        raise NotRegistered(
            "a privacy budget belongs to an analyst or a marketer token that names its subject"
        )
    spender = ledger.Spender(subject, role)
    if not await ledger.spender_exists(ctx.pool, spender):
        refused = NotRegistered(_UNREGISTERED.format(role=role.value, id=subject))
        ctx.memo["dp_spender"] = refused
        raise refused
    ctx.memo["dp_spender"] = spender
    return spender

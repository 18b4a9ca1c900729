"""Segments over GraphQL (role marketer): create / update (each edit a new immutable version) and
simulateSegment, which runs the very evaluator offer targeting runs and reports pass/fail per
condition without any of the user's values."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.guard import ACCOUNT_TABLES, Guard, load_account
from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.ids import row_id
from resolvers.common.permissions import require
from resolvers.context import Context
from resolvers.model.user import Account, UserModel
from resolvers.segments.members import refresh_members
from resolvers.segments.rules import SegmentVersion, segment_match, validate_rule
from sql import load_queries

Q = load_queries()
MARKETER = [require(Role.MARKETER, Role.ADMIN)]


@strawberry.type(description="A marketer's audience rule at its current version.")
class Segment:
    segment_id: strawberry.Private[int]
    name: str
    description: str
    version: int
    rule: JSON

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.segment_id))


@strawberry.type(description="One condition of a simulated rule: no user values, only the outcome.")
class ConditionOutcome:
    path: str
    attribute: str
    operator: str
    passed: bool


@strawberry.type
class SegmentSimulation:
    segment_id: strawberry.ID
    version: int
    passed: bool
    conditions: list[ConditionOutcome]


@strawberry.type(description="No such segment (or it is archived).")
class SegmentNotFound:
    message: str


@strawberry.type(description="What a membership refresh did (counts only, never who).")
class SegmentRefresh:
    users: int = strawberry.field(description="Users evaluated (their consent allows the inference).")
    skipped: int = strawberry.field(description="Users whose consent does not allow it: nothing stored.")
    memberships: int = strawberry.field(description="Memberships stored.")
    changed: int = strawberry.field(description="Rows written or removed.")


SegmentResult = Annotated[Segment | InvalidInput, strawberry.union("SegmentResult")]
SimulationResult = Annotated[SegmentSimulation | SegmentNotFound, strawberry.union("SimulationResult")]


def _segment(row: asyncpg.Record, rule: Any) -> Segment:
    return Segment(
        segment_id=row["segment_id"],
        name=row["name"],
        description=row["description"],
        version=row["current_version"],
        rule=rule,
    )


async def _rule_errors(ctx: Context, rule: Any) -> list[FieldError]:
    catalog = await ctx.catalog()
    topics = frozenset(i.sensitive_topic.lower() for i in catalog.items.values() if i.sensitive_topic)
    return validate_rule(rule, frozenset(c.lower() for c in catalog.sensitive_categories) | topics)


class SimulationGuard(Guard):
    """A marketer reading one user's attributes for a simulation: the ownership check does not
    apply (role marketer was checked), the *user's* consent snapshot still gates every read and
    each read is audited with the user as subject."""

    def check(self, purpose: str, source: Source, subject_user_id: int | None) -> None:
        super().check(purpose, source, None)


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(permission_classes=MARKETER, description="Create a segment (version 1).")
    async def create_segment(
        self, info: Info[Context, None], name: str, rule: JSON, description: str = ""
    ) -> SegmentResult:
        ctx = info.context
        errors = await _rule_errors(ctx, rule)
        if not name.strip() or len(name) > 120:
            errors.insert(0, FieldError(field="name", message="must be 1 to 120 characters"))
        if errors:
            return InvalidInput(message="segment not saved", errors=errors)
        async with ctx.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(Q.insert_segment, name.strip(), description, ctx.principal.label)
            if row is None:
                return InvalidInput(
                    message="segment not saved",
                    errors=[FieldError(field="name", message="name already used")],
                )
            await conn.execute(Q.insert_segment_version, row["segment_id"], 1, rule, ctx.principal.label)
        await _refresh_saved(ctx, row["segment_id"])
        return _segment(row, rule)

    @strawberry.mutation(permission_classes=MARKETER, description="Save a new version of a segment's rule.")
    async def update_segment(
        self, info: Info[Context, None], segment_id: strawberry.ID, rule: JSON, description: str | None = None
    ) -> SegmentResult:
        ctx = info.context
        errors = await _rule_errors(ctx, rule)
        if errors:
            return InvalidInput(message="segment not saved", errors=errors)
        async with ctx.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(Q.bump_segment_version, row_id(segment_id), description)
            if row is None:
                return InvalidInput(
                    message="segment not saved",
                    errors=[FieldError(field="segmentId", message="no such segment")],
                )
            await conn.execute(
                Q.insert_segment_version, row["segment_id"], row["current_version"], rule, ctx.principal.label
            )
        await _refresh_saved(ctx, row["segment_id"])
        return _segment(row, rule)

    @strawberry.mutation(
        permission_classes=MARKETER,
        description=(
            "Re-evaluate every live segment for every user and store who matches (the analysts' "
            "SEGMENT dimension); the same evaluator as offer targeting."
        ),
    )
    async def refresh_segment_membership(self, info: Info[Context, None]) -> SegmentRefresh:
        ctx = info.context
        c = await refresh_members(ctx.pool, ctx.principal, ctx.config, request_id=ctx.request_id)
        return SegmentRefresh(users=c.users, skipped=c.skipped, memberships=c.memberships, changed=c.changed)


async def _refresh_saved(ctx: Context, segment_id: int) -> None:
    """The saved segment's membership at its new version (after the commit, so it sees it)."""
    if ctx.config.segments.refresh_members_on_save:
        await refresh_members(
            ctx.pool, ctx.principal, ctx.config, segment_ids=[segment_id], request_id=ctx.request_id
        )


@strawberry.type
class SegmentQuery:
    @strawberry.field(permission_classes=MARKETER, description="Live segments at their current version.")
    async def segments(self, info: Info[Context, None]) -> list[Segment]:
        rows = await info.context.pool.fetch(Q.current_segments)
        return [_segment(r, r["rule"]) for r in rows]

    @strawberry.field(
        permission_classes=MARKETER,
        description="Which conditions of a segment a user passes, evaluated exactly as offer targeting does.",
    )
    async def simulate_segment(
        self, info: Info[Context, None], user_id: strawberry.ID, segment_id: strawberry.ID
    ) -> SimulationResult:
        ctx = info.context
        row = await ctx.pool.fetchrow(Q.segment_by_id, row_id(segment_id))
        if row is None:
            return SegmentNotFound(message="no such segment")
        seg = SegmentVersion(row["segment_id"], row["name"], row["current_version"], row["rule"])
        uid = row_id(user_id)
        # The user's own GPC is per request, not stored.
        snapshot, account = await load_account(ctx.pool, uid, False)
        guard = SimulationGuard(ctx.pool, ctx.principal, ctx.request_id, snapshot)
        try:
            passed, conditions = await _simulate(ctx, guard, account, seg)
        finally:
            await guard.flush()
        return SegmentSimulation(
            segment_id=strawberry.ID(str(seg.segment_id)),
            version=seg.version,
            passed=passed,
            conditions=[
                ConditionOutcome(path=c.path, attribute=c.attribute, operator=c.operator, passed=c.passed)
                for c in conditions
            ],
        )


async def _simulate(
    ctx: Context, guard: Guard, row: asyncpg.Record | None, seg: SegmentVersion
) -> tuple[bool, list[Any]]:
    if row is None:  # unknown user: nothing is known, every condition fails
        return segment_match(seg, {}, frozenset(), guard.snapshot)
    model = UserModel(guard, Account.of(row))
    guard.record(ESSENTIAL, ACCOUNT_TABLES, model.user_id)
    attrs = await model.attributes(await ctx.catalog(), ctx.config.tags, ctx.config.model.spend_window_days)
    return segment_match(seg, attrs, model.controls.hidden_inferences, guard.snapshot)

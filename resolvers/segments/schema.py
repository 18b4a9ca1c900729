"""Segments over GraphQL (role marketer): create / update (each edit a new immutable version),
simulateSegment against a synthetic profile the marketer describes, and, for a signed-in user,
segmentPreview of their own match. Marketers never see a real person's values, pass/fail
outcomes or exact counts: a rule is tried on made-up people, and segment sizes reach them only
as DP counts charged to their own budget (segmentSizes, resolvers/analytics/schema.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.principal import Role
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.ids import row_id
from resolvers.common.permissions import require
from resolvers.context import Context
from resolvers.segments.members import live_segments, refresh_members
from resolvers.segments.rules import SegmentVersion, segment_match, validate_rule
from resolvers.segments.synthetic import SYNTHETIC_CONSENT, profile_attributes, targetable_categories
from sql import load_queries

Q = load_queries()
MARKETER = [require(Role.MARKETER, Role.ADMIN)]


@strawberry.type(description="A marketer's audience rule at its current version.")
class Segment:
    segment_id: strawberry.Private[int]
    name: str = strawberry.field(description="Unique display name (1..120 characters).")
    description: str = strawberry.field(description="Free text for marketers; may be empty.")
    version: int = strawberry.field(
        description=(
            "The current version; every update saves a new one, and decisions cite the version that matched."
        )
    )
    rule: JSON = strawberry.field(
        description=(
            'The rule, a JSON condition tree: {"and": [...]}, {"or": [...]}, {"not": node} or'
            ' {"attr": name, "op": eq|ne|lt|lte|gt|gte|in, "value": v} over a declared '
            "attribute."
        )
    )

    @strawberry.field(description="The segment id (as in `why.rule` and segment:<id> inference keys).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.segment_id))


@strawberry.type(description="One condition of a simulated rule: no user values, only the outcome.")
class ConditionOutcome:
    path: str = strawberry.field(description="Where the condition sits in the rule, e.g. `rule.and[1]`.")
    attribute: str = strawberry.field(description="The declared attribute the condition tests.")
    operator: str = strawberry.field(description="The condition's operator (eq, ne, lt, lte, gt, gte, in).")
    passed: bool = strawberry.field(
        description=(
            "Whether it held; false also when the attribute is not available (no consent, or hidden)."
        )
    )


@strawberry.type(description="Whether a person passes a segment's rule, condition by condition.")
class SegmentSimulation:
    segment_id: strawberry.ID = strawberry.field(description="The segment evaluated.")
    version: int = strawberry.field(description="The segment version evaluated (the current one).")
    passed: bool = strawberry.field(description="Whether the whole rule matched.")
    conditions: list[ConditionOutcome] = strawberry.field(
        description="Each condition's outcome, in rule order."
    )


@strawberry.type(description="No such segment (or it is archived).")
class SegmentNotFound:
    message: str = strawberry.field(description="What was not found.")


@strawberry.type(
    description=(
        "A membership refresh finished. No counts: an exact count moving by one shows a person "
        "joining or leaving (sizes: segmentSizes, differentially private)."
    )
)
class SegmentRefresh:
    segments: int = strawberry.field(description="Live segments re-evaluated.")
    finished_at: datetime = strawberry.field(description="When the refresh finished (UTC).")


SegmentResult = Annotated[
    Segment | InvalidInput,
    strawberry.union(
        "SegmentResult",
        description=("The saved segment, or InvalidInput (bad rule or name, name taken, unknown segment)."),
    ),
]
SimulationResult = Annotated[
    SegmentSimulation | SegmentNotFound | InvalidInput,
    strawberry.union(
        "SimulationResult",
        description=("The outcome, SegmentNotFound, or InvalidInput for a profile that is not accepted."),
    ),
]
PreviewResult = Annotated[
    SegmentSimulation | SegmentNotFound,
    strawberry.union("SegmentPreviewResult", description="The outcome for you, or SegmentNotFound."),
]


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


@strawberry.type
class SegmentMutation:
    @strawberry.mutation(permission_classes=MARKETER, description="Create a segment (version 1).")
    async def create_segment(
        self,
        info: Info[Context, None],
        name: Annotated[str, strawberry.argument(description="Unique display name, 1..120 characters.")],
        rule: Annotated[
            JSON,
            strawberry.argument(
                description=(
                    "The rule (see Segment.rule); rules naming sensitive categories or topics are refused."
                )
            ),
        ],
        description: Annotated[str, strawberry.argument(description="Free text for marketers.")] = "",
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
        self,
        info: Info[Context, None],
        segment_id: Annotated[strawberry.ID, strawberry.argument(description="The segment to update.")],
        rule: Annotated[JSON, strawberry.argument(description="The new rule; saved as the next version.")],
        description: Annotated[
            str | None, strawberry.argument(description="A new description; null keeps the current one.")
        ] = None,
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
        live = len(await live_segments(ctx.pool))
        await refresh_members(ctx.pool, ctx.principal, ctx.config, request_id=ctx.request_id)
        return SegmentRefresh(segments=live, finished_at=datetime.now(UTC))


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
        description=(
            "Which conditions of a segment a synthetic person passes, evaluated exactly as offer "
            "targeting does. `profile` maps declared attributes to values shaped like real ones "
            '(e.g. {"spend_90d_cents": 24000, "purchased_category": ["apparel"], "country": "DE"}); '
            "an attribute left out counts as not available under the person's consent."
        ),
    )
    async def simulate_segment(
        self,
        info: Info[Context, None],
        segment_id: Annotated[strawberry.ID, strawberry.argument(description="The segment to evaluate.")],
        profile: Annotated[
            JSON, strawberry.argument(description="A synthetic person: declared attribute names to values.")
        ],
    ) -> SimulationResult:
        ctx = info.context
        attrs, errors = profile_attributes(profile, targetable_categories(await ctx.catalog()))
        if errors:
            return InvalidInput(message="the profile was not accepted", errors=errors)
        seg = await _segment_version(ctx, segment_id)
        if seg is None:
            return SegmentNotFound(message="no such segment")
        passed, conditions = segment_match(seg, attrs, frozenset(), SYNTHETIC_CONSENT)
        return _simulation(seg, passed, conditions)

    @strawberry.field(
        permission_classes=[require(Role.USER)],
        description=(
            "Which conditions of a segment you pass, from your own data under your own consent, "
            "evaluated exactly as offer targeting does (no values, only pass/fail)."
        ),
    )
    async def segment_preview(
        self,
        info: Info[Context, None],
        segment_id: Annotated[
            strawberry.ID, strawberry.argument(description="The segment to evaluate against your data.")
        ],
    ) -> PreviewResult:
        ctx = info.context
        seg = await _segment_version(ctx, segment_id)
        if seg is None:
            return SegmentNotFound(message="no such segment")
        # The operation's own user model: the caller's account and consent, every read audited
        # with them as reader and subject.
        model = await ctx.model()
        if model.user_id is None:  # unknown user: nothing is known, every condition fails
            passed, conditions = segment_match(seg, {}, frozenset(), model.consent)
        else:
            attrs = await model.attributes(
                await ctx.catalog(), ctx.config.tags, ctx.config.model.spend_window_days
            )
            passed, conditions = segment_match(seg, attrs, model.controls.hidden_inferences, model.consent)
        return _simulation(seg, passed, conditions)


async def _segment_version(ctx: Context, segment_id: strawberry.ID) -> SegmentVersion | None:
    row = await ctx.pool.fetchrow(Q.segment_by_id, row_id(segment_id))
    if row is None:
        return None
    return SegmentVersion(row["segment_id"], row["name"], row["current_version"], row["rule"])


def _simulation(seg: SegmentVersion, passed: bool, conditions: list[Any]) -> SegmentSimulation:
    return SegmentSimulation(
        segment_id=strawberry.ID(str(seg.segment_id)),
        version=seg.version,
        passed=passed,
        conditions=[
            ConditionOutcome(path=c.path, attribute=c.attribute, operator=c.operator, passed=c.passed)
            for c in conditions
        ],
    )

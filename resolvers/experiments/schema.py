"""Experiments over GraphQL (role marketer): create / update (each edit a new immutable version),
start / stop, and the list with status. Marketers see definitions and status, never exact
counts: sizes reach them only through `experimentSizes` (DP, charged to their own budget), and
results reach analysts through `experimentResults` (resolvers/analytics/schema.py)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, cast

import asyncpg
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.principal import Role
from privacy.vocabulary import Experience, Platform, PriceTier
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context
from resolvers.experiments import rules
from resolvers.experiments.rules import Definition, Status, SurfaceVocabulary
from resolvers.segments.rules import LIVE_SEGMENTS
from sql import load_queries

Q = load_queries()
MARKETER = [require(Role.MARKETER, Role.ADMIN)]


@strawberry.enum(description="What an experiment varies.")
class ExperimentSurface(Enum):
    LAYOUT_SECTIONS = strawberry.enum_value(
        "LAYOUT_SECTIONS", description='The layout\'s sections and their order; value {"sections": [...]}.'
    )
    OFFER_COUNT = strawberry.enum_value(
        "OFFER_COUNT", description='How many offers the layout shows; value {"count": 0..10}. Marketing.'
    )
    FEED_WEIGHTS = strawberry.enum_value(
        "FEED_WEIGHTS", description='The personalized feed\'s ranking weights; value {"weights": {...}}.'
    )
    LAYOUT_RULES = strawberry.enum_value(
        "LAYOUT_RULES",
        description=(
            'The layout rules per tag combination; value {"rules": [...]}, rules as in setLayoutRules '
            "(experience, priceTier, sections, offerCount); they replace the current rule set."
        ),
    )
    OFFER_CHOICE = strawberry.enum_value(
        "OFFER_CHOICE",
        description=(
            'Which of several offers is shown; value {"offerIds": [...]}: a variant shows its offers and '
            "hides the other variants' ones; control shows what the offer rules choose. Marketing."
        ),
    )


@strawberry.enum(description="Metrics an experiment may measure (a fixed list).")
class ExperimentMetric(Enum):
    CONVERSION = strawberry.enum_value("CONVERSION", description="A purchase after the first exposure.")
    OFFER_CLICK_THROUGH = strawberry.enum_value(
        "OFFER_CLICK_THROUGH", description="An offer_click event after the first exposure."
    )
    OFFER_REDEMPTION = strawberry.enum_value(
        "OFFER_REDEMPTION", description="An offer_redemption event after the first exposure."
    )
    REVENUE_PER_USER = strawberry.enum_value(
        "REVENUE_PER_USER",
        description=(
            "Purchase cents after the first exposure (the first 100 purchases), clamped per user at "
            "revenueClampCents."
        ),
    )
    SESSIONS_PER_USER = strawberry.enum_value(
        "SESSIONS_PER_USER",
        description="Sessions after the first exposure, clamped per user at sessionsClamp.",
    )


@strawberry.enum(description="Where an experiment is in its life.")
class ExperimentStatus(Enum):
    DRAFT = strawberry.enum_value("draft", description="Saved, never started: nobody is enrolled.")
    RUNNING = strawberry.enum_value("running", description="Users are assigned and exposures recorded.")
    STOPPED = strawberry.enum_value(
        "stopped", description="Everyone gets control; starting again restores everyone's variant."
    )


@strawberry.input(description="One variant; the first is control (the standard experience, no value).")
class VariantInput:
    key: str = strawberry.field(description="Lowercase key; the first variant's is 'control'.")
    weight: int = strawberry.field(
        description="Percent of the experiment's users (1..100; all add up to 100)."
    )
    value: JSON | None = strawberry.field(
        default=None,
        description="What the variant sets on the surface (see ExperimentSurface); none for control.",
    )


@strawberry.input(description="Who may be enrolled (everything optional; eligibility rules always apply).")
class TargetingInput:
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only members of this live segment."
    )
    experience: Experience | None = strawberry.field(
        default=None, description="Only users with this experience tag."
    )
    price_tier: PriceTier | None = strawberry.field(
        default=None, description="Only users with this price tier tag."
    )
    platforms: list[Platform] | None = strawberry.field(default=None, description="Only on these platforms.")


@strawberry.input(description="An experiment's definition.")
class ExperimentInput:
    key: str = strawberry.field(description="Unique key (lowercase letters, digits, _); the default seed.")
    name: str = strawberry.field(description="The public name a `why` shows to users.")
    hypothesis: str = strawberry.field(description="What the experiment expects, in words.")
    surface: ExperimentSurface = strawberry.field(description="What it varies.")
    variants: list[VariantInput] = strawberry.field(description="2..8 variants, control first.")
    namespace: str = strawberry.field(
        description="Mutually exclusive group: experiments on one surface share it with disjoint ranges."
    )
    range_start: float = strawberry.field(
        default=0.0, description="Start of this experiment's namespace range."
    )
    range_end: float = strawberry.field(default=1.0, description="End (exclusive) of the namespace range.")
    targeting: TargetingInput | None = strawberry.field(default=None, description="Who may be enrolled.")
    primary_metric: ExperimentMetric = strawberry.field(description="The decision metric.")
    guardrail_metrics: list[ExperimentMetric] = strawberry.field(
        default_factory=list, description="Metrics that must not get worse."
    )
    revenue_clamp_cents: int | None = strawberry.field(
        default=None, description="Per-user revenue clamp; required with REVENUE_PER_USER."
    )
    sessions_clamp: int | None = strawberry.field(
        default=None, description="Per-user sessions clamp; required with SESSIONS_PER_USER."
    )
    seed: str | None = strawberry.field(default=None, description="Hash seed; defaults to the key.")


@strawberry.type(description="An experiment variant.")
class ExperimentVariant:
    key: str = strawberry.field(description="The variant's key; control first.")
    weight: int = strawberry.field(description="Percent of the experiment's users.")
    value: JSON = strawberry.field(description="What it sets on the surface ({} for control).")


@strawberry.type(description="An experiment at its current version. No counts: see experimentSizes.")
class Experiment:
    key: str = strawberry.field(description="Unique key.")
    name: str = strawberry.field(description="Public name shown in a `why`.")
    hypothesis: str = strawberry.field(description="What it expects.")
    version: int = strawberry.field(description="Definition version (each edit adds one).")
    status: ExperimentStatus = strawberry.field(description="Draft, running or stopped.")
    surface: ExperimentSurface = strawberry.field(description="What it varies.")
    namespace: str = strawberry.field(description="Mutually exclusive group.")
    range_start: float = strawberry.field(description="Start of its namespace range.")
    range_end: float = strawberry.field(description="End of its namespace range.")
    variants: list[ExperimentVariant] = strawberry.field(description="Control first.")
    targeting: JSON = strawberry.field(description="Segment, tags and platforms targeted.")
    primary_metric: ExperimentMetric = strawberry.field(description="The decision metric.")
    guardrail_metrics: list[ExperimentMetric] = strawberry.field(description="Guardrails.")
    revenue_clamp_cents: int | None = strawberry.field(description="Per-user revenue clamp.")
    sessions_clamp: int | None = strawberry.field(description="Per-user sessions clamp.")
    started_at: datetime | None = strawberry.field(description="When it last started.")
    stopped_at: datetime | None = strawberry.field(description="When it last stopped.")


ExperimentResult = Annotated[
    Experiment | InvalidInput,
    strawberry.union(
        "ExperimentResult",
        description="The experiment as saved, or InvalidInput (every problem by field; nothing changed).",
    ),
]
DefinitionArg = Annotated[ExperimentInput, strawberry.argument(description="The experiment's definition.")]
KeyArg = Annotated[str, strawberry.argument(description="The experiment's key.")]


def _render(row: asyncpg.Record, definition: Definition | None = None) -> Experiment:
    d = definition or Definition.from_json(row["definition"])
    return Experiment(
        key=d.key,
        name=d.name,
        hypothesis=d.hypothesis,
        version=row["current_version"],
        status=ExperimentStatus(row["status"]),
        surface=ExperimentSurface(d.surface.value),
        namespace=d.namespace,
        range_start=d.range_start,
        range_end=d.range_end,
        variants=[
            ExperimentVariant(key=v.key, weight=v.weight, value=cast(JSON, dict(v.value))) for v in d.variants
        ],
        targeting=cast(
            JSON, {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(d.targeting).items()}
        ),
        primary_metric=ExperimentMetric(d.primary_metric.value),
        guardrail_metrics=[ExperimentMetric(m.value) for m in d.guardrail_metrics],
        revenue_clamp_cents=d.revenue_clamp_cents,
        sessions_clamp=d.sessions_clamp,
        started_at=row["started_at"],
        stopped_at=row["stopped_at"],
    )


def _raw(inp: ExperimentInput) -> dict[str, Any]:
    t = inp.targeting
    return {
        "key": inp.key,
        "name": inp.name,
        "hypothesis": inp.hypothesis,
        "surface": inp.surface.value,
        "variants": [{"key": v.key, "weight": v.weight, "value": v.value} for v in inp.variants],
        "namespace": inp.namespace,
        "rangeStart": inp.range_start,
        "rangeEnd": inp.range_end,
        "targeting": {
            "segmentId": t.segment_id if t else None,
            "experience": t.experience.value if t and t.experience else None,
            "priceTier": t.price_tier.value if t and t.price_tier else None,
            "platforms": [p.value for p in t.platforms or ()] if t else [],
        },
        "primaryMetric": inp.primary_metric.value,
        "guardrailMetrics": [m.value for m in inp.guardrail_metrics],
        "revenueClampCents": inp.revenue_clamp_cents,
        "sessionsClamp": inp.sessions_clamp,
        "seed": inp.seed,
    }


async def _validate(ctx: Context, inp: ExperimentInput) -> tuple[Definition | None, list[FieldError]]:
    layout = ctx.config.layout
    vocab = SurfaceVocabulary(
        frozenset(layout.default_sections) | frozenset(layout.newbie_sections) | layout.feature_sections
    )
    live = frozenset((await ctx.reference(LIVE_SEGMENTS)).keys())
    offers = frozenset(r["offer_id"] for r in await ctx.pool.fetch(Q.live_offer_ids))
    return rules.validate(_raw(inp), replace(vocab, offers=offers), live)


def _others(rows: list[asyncpg.Record]) -> list[tuple[Status, Definition]]:
    return [(Status(r["status"]), Definition.from_json(r["definition"])) for r in rows]


NOT_SAVED = "experiment not saved"


@strawberry.type
class ExperimentMutation:
    @strawberry.mutation(
        permission_classes=MARKETER, description="Create an experiment (a draft at version 1)."
    )
    async def create_experiment(self, info: Info[Context, None], input: DefinitionArg) -> ExperimentResult:
        ctx = info.context
        d, errors = await _validate(ctx, input)
        if d is None:
            return InvalidInput(message=NOT_SAVED, errors=errors)
        async with ctx.pool.acquire() as conn, conn.transaction():
            await conn.execute(Q.lock_experiment_namespaces)
            errors = rules.overlaps(d, _others(await conn.fetch(Q.all_experiments)))
            if errors:
                return InvalidInput(message=NOT_SAVED, errors=errors)
            row = await conn.fetchrow(Q.insert_experiment, d.key, ctx.principal.label)
            if row is None:
                return InvalidInput(
                    message=NOT_SAVED, errors=[FieldError(field="key", message="key already used")]
                )
            await conn.execute(
                Q.insert_experiment_version, row["experiment_id"], 1, d.to_json(), ctx.principal.label
            )
        return _render(row, d)

    @strawberry.mutation(
        permission_classes=MARKETER,
        description=(
            "Save a new version of an experiment. Once it has run, what assigns users (surface, "
            "variants and weights, namespace range, seed, clamps) cannot change: nobody is reshuffled."
        ),
    )
    async def update_experiment(self, info: Info[Context, None], input: DefinitionArg) -> ExperimentResult:
        ctx = info.context
        d, errors = await _validate(ctx, input)
        if d is None:
            return InvalidInput(message=NOT_SAVED, errors=errors)
        async with ctx.pool.acquire() as conn, conn.transaction():
            await conn.execute(Q.lock_experiment_namespaces)
            current = await conn.fetchrow(Q.lock_experiment, d.key)
            if current is None:
                return InvalidInput(
                    message=NOT_SAVED, errors=[FieldError(field="key", message="no such experiment")]
                )
            old = Definition.from_json(current["definition"])
            if current["started_at"] is not None and old.frozen_part() != d.frozen_part():
                return InvalidInput(
                    message=NOT_SAVED,
                    errors=[
                        FieldError(
                            field="variants",
                            message="the experiment has run: surface, variants, weights, namespace range, "
                            "seed and clamps are fixed (changing them would reshuffle users); "
                            "create a new experiment instead",
                        )
                    ],
                )
            errors = rules.overlaps(d, _others(await conn.fetch(Q.all_experiments)))
            if errors:
                return InvalidInput(message=NOT_SAVED, errors=errors)
            row = await conn.fetchrow(Q.bump_experiment_version, current["experiment_id"])
            assert row is not None
            await conn.execute(
                Q.insert_experiment_version, row["experiment_id"], row["current_version"], d.to_json(),
                ctx.principal.label,
            )  # fmt: skip
        return _render(row, d)

    @strawberry.mutation(
        permission_classes=MARKETER,
        description="Start (or restart) an experiment: users get their variant from the next request.",
    )
    async def start_experiment(self, info: Info[Context, None], key: KeyArg) -> ExperimentResult:
        return await _set_status(info.context, key, Status.RUNNING)

    @strawberry.mutation(
        permission_classes=MARKETER,
        description="Stop an experiment: everyone gets control from the next request; nothing is reshuffled.",
    )
    async def stop_experiment(self, info: Info[Context, None], key: KeyArg) -> ExperimentResult:
        return await _set_status(info.context, key, Status.STOPPED)


async def _set_status(ctx: Context, key: str, status: Status) -> ExperimentResult:
    async with ctx.pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(Q.lock_experiment, key)
        if current is None:
            return InvalidInput(
                message="nothing changed", errors=[FieldError(field="key", message="no such experiment")]
            )
        if current["status"] == status.value:
            return InvalidInput(
                message="nothing changed", errors=[FieldError(field="key", message=f"already {status.value}")]
            )
        if status is Status.STOPPED and current["status"] == Status.DRAFT.value:
            return InvalidInput(
                message="nothing changed", errors=[FieldError(field="key", message="never started")]
            )
        row = await conn.fetchrow(Q.set_experiment_status, current["experiment_id"], status.value)
    assert row is not None
    return _render(row, Definition.from_json(current["definition"]))


@strawberry.type
class ExperimentQuery:
    @strawberry.field(
        permission_classes=[require(Role.MARKETER, Role.ADMIN, Role.ANALYST)],
        description="Every experiment at its current version, with its status (no counts).",
    )
    async def experiments(self, info: Info[Context, None]) -> list[Experiment]:
        return [_render(r) for r in await info.context.pool.fetch(Q.all_experiments)]

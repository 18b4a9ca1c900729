"""Which experiment variant a surface applies for this operation's person, and the exposure log.

A surface asks `enrollment(ctx, surface, platform)` once per operation. The person's eligibility
is the user model's rule (`UserModel.experiment_refusal`: level NONE, no profiling or analytics
consent, minors on marketing surfaces, left experiments): an ineligible person gets None, the
control experience, and nothing is written. Targeting (platforms, layout tags, a segment) is
evaluated on the same user model every other surface uses. An enrolled person's first exposure
is written once (ON CONFLICT DO NOTHING, so every worker and retry agree) under the analytics
purpose, by the request that decided it; the variant itself comes from the hash alone."""

from __future__ import annotations

import asyncpg

from privacy.purposes import ANALYTICS, Source
from resolvers.context import Context
from resolvers.experiments.rules import (
    Definition,
    Enrollment,
    Experiment,
    Status,
    Surface,
    assign,
    pseudonym,
)
from resolvers.model.reference import ReferenceKind
from resolvers.segments.rules import LIVE_SEGMENTS, segment_match
from sql import load_queries

Q = load_queries()
EXPOSURE_TABLES = ("experiment_exposures",)


async def _running(pool: asyncpg.Pool) -> dict[Surface, tuple[Experiment, ...]]:
    rows = await pool.fetch(Q.all_experiments)
    by_surface: dict[Surface, list[Experiment]] = {}
    for r in rows:
        if r["status"] != Status.RUNNING.value:
            continue
        d = Definition.from_json(r["definition"])
        by_surface.setdefault(d.surface, []).append(
            Experiment(r["experiment_id"], r["current_version"], Status(r["status"]), d)
        )
    return {s: tuple(v) for s, v in by_surface.items()}


# Running experiments by surface: public configuration, cached per worker, dropped on change.
RUNNING = ReferenceKind[dict[Surface, tuple[Experiment, ...]]]("experiments", _running)


async def enrollment(ctx: Context, surface: Surface, platform: str | None = None) -> Enrollment | None:
    """The running experiment on `surface` this person is in, with their variant; None: control
    (not eligible, not targeted, outside every experiment's range, or no experiment running).
    Decided once per operation and surface; the exposure is written at most once."""
    key = f"experiment:{surface.value}"
    if key in ctx.memo:
        memo: Enrollment | None = ctx.memo[key]
        return memo
    found = await _decide(ctx, surface, platform)
    ctx.memo[key] = found
    if found is not None:
        model = await ctx.model()
        assert model.user_id is not None
        written = _written(ctx.pool)
        mark = (model.user_id, found.experiment.experiment_id)
        if mark in written:  # this worker already recorded it: the row exists, skip the round trip
            return found
        await model.guard.write(
            Q.record_exposure,
            purpose=ANALYTICS,
            source=Source.BEHAVIOURAL,
            tables=EXPOSURE_TABLES,
            subject_user_id=model.user_id,
            experiment_id=found.experiment.experiment_id,
            variant=found.variant.key,
        )
        if len(written) >= _WRITTEN_MAX:
            written.clear()
        written.add(mark)
    return found


# (user, experiment) pairs whose first exposure this worker has written, per pool: a repeat
# request skips the (no-op) insert. Bounded; a forgotten pair only costs one more no-op insert.
_WRITTEN_MAX = 200_000
_WRITTEN: dict[int, tuple[asyncpg.Pool, set[tuple[int, int]]]] = {}


def _written(pool: asyncpg.Pool) -> set[tuple[int, int]]:
    entry = _WRITTEN.get(id(pool))
    if entry is None or entry[0] is not pool:
        for k in [k for k, (p, _) in _WRITTEN.items() if p.is_closing()]:
            del _WRITTEN[k]
        entry = (pool, set())
        _WRITTEN[id(pool)] = entry
    return entry[1]


async def _decide(ctx: Context, surface: Surface, platform: str | None) -> Enrollment | None:
    running = (await ctx.reference(RUNNING)).get(surface, ())
    if not running:
        return None
    model = await ctx.model()
    user_id = model.user_id
    if user_id is None:
        return None
    who = pseudonym(user_id, ctx.config.experiments.id_salt)
    for exp in running:
        d = exp.definition
        if model.experiment_refusal(d.marketing) is not None:
            continue
        variant = assign(d, who)  # pure hashing: cheapest test first
        if variant is None:
            continue
        t = d.targeting
        where = platform or (
            model.account.platform.value if model.account and model.account.platform else None
        )
        if t.platforms and where not in t.platforms:
            continue
        if t.needs_tags:
            tags = await model.tags(ctx.config.tags)
            if t.experience is not None and tags.experience.value != t.experience:
                continue
            if t.price_tier is not None and tags.price_tier.value != t.price_tier:
                continue
        if t.segment_id is not None:
            seg = (await ctx.reference(LIVE_SEGMENTS)).get(t.segment_id)
            if seg is None:
                continue
            attrs = await model.attributes(
                await ctx.catalog(), ctx.config.tags, ctx.config.model.spend_window_days
            )
            matched, _ = segment_match(seg, attrs, model.controls.hidden_inferences, model.consent)
            if not matched:
                continue
        return Enrollment(exp, variant)
    return None

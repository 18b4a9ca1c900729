"""Offers over GraphQL: marketers define them; a user's `viewer { offers }` runs the pure
targeting, then serves qualifying offers only while their frequency caps allow. The cap check and
the impression insert are one statement under a per-user advisory transaction lock, so two
devices or two workers can never both take the last slot (strictest of offer and user cap wins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.guard import Guard
from privacy.principal import Role
from privacy.purposes import OFFERS, Source
from resolvers.catalog import CATALOG
from resolvers.context import Context
from resolvers.errors import FieldError, InvalidInput
from resolvers.explain import Why, render_why
from resolvers.ids import row_id
from resolvers.offer_input import parse_offer
from resolvers.offer_rules import Offer, Qualified, decide_offers
from resolvers.permissions import require
from resolvers.segment_members import live_segments
from resolvers.surfaces import Surface
from resolvers.user_facts import attribute_values, load_user_facts
from sql import load_queries

Q = load_queries()
MARKETER = [require(Role.MARKETER, Role.ADMIN)]


@strawberry.type(name="Offer", description="A marketer-defined offer.")
class OfferType:
    offer_id: strawberry.Private[int]
    name: str
    kind: str
    discount_pct: int | None
    surface: str
    channel: str | None
    item_id: strawberry.ID | None
    segment_id: strawberry.ID | None
    params: JSON
    cap_per_window: int | None
    cap_window_hours: int | None
    priority: int
    active: bool

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.offer_id))

    @classmethod
    def of(cls, row: asyncpg.Record | dict[str, Any]) -> OfferType:
        return cls(
            offer_id=row["offer_id"],
            name=row["name"],
            kind=row["kind"],
            discount_pct=row["discount_pct"],
            surface=row["surface"],
            channel=row["channel"],
            item_id=strawberry.ID(str(row["item_id"])) if row["item_id"] is not None else None,
            segment_id=strawberry.ID(str(row["segment_id"])) if row["segment_id"] is not None else None,
            params=row["params"],
            cap_per_window=row["cap_per_window"],
            cap_window_hours=row["cap_window_hours"],
            priority=row["priority"],
            active=row["active"],
        )


@strawberry.type(description="An offer served to you, and why.")
class ServedOffer:
    offer: OfferType
    why: Why


@strawberry.input
class OfferInput:
    name: str
    kind: str
    segment_id: strawberry.ID | None = None
    item_id: strawberry.ID | None = None
    discount_pct: int | None = None
    surface: str = "offers"
    channel: str | None = None
    params: JSON = strawberry.field(default_factory=dict)
    cap_per_window: int | None = None
    cap_window_hours: int | None = None
    priority: int = 0
    active: bool = True


OfferResult = Annotated[OfferType | InvalidInput, strawberry.union("OfferResult")]


def _offer(row: asyncpg.Record) -> Offer:
    return Offer(
        offer_id=row["offer_id"],
        name=row["name"],
        kind=row["kind"],
        segment_id=row["segment_id"],
        item_id=row["item_id"],
        discount_pct=row["discount_pct"],
        surface=row["surface"],
        channel=row["channel"],
        params=row["params"] or {},
        cap_per_window=row["cap_per_window"],
        cap_window_hours=row["cap_window_hours"],
        priority=row["priority"],
    )


async def _validated(ctx: Context, data: OfferInput) -> tuple[list[Any] | None, list[FieldError]]:
    raw = dict(vars(data))
    for key in ("segment_id", "item_id"):
        if raw[key] is not None:
            raw[key] = row_id(raw[key])
    spec, errors = parse_offer(raw)
    if spec is None:
        return None, errors
    catalog = await CATALOG.get(ctx.pool, ctx.config.personalization.catalog_ttl_s)
    if spec.item_id is not None:
        item = catalog.items.get(spec.item_id)
        if item is None:
            errors.append(FieldError(field="input.itemId", message="no such active item"))
        elif item.sensitive:
            errors.append(FieldError(field="input.itemId", message="sensitive items are never targeted"))
    if spec.segment_id is not None and await ctx.pool.fetchrow(Q.segment_by_id, spec.segment_id) is None:
        errors.append(FieldError(field="input.segmentId", message="no such segment"))
    if errors:
        return None, errors
    d = spec.model_dump()
    columns = (
        *("name", "kind", "segment_id", "item_id", "discount_pct", "surface", "channel", "params"),
        *("cap_per_window", "cap_window_hours", "priority", "active"),
    )
    return [d[c] for c in columns], []


@strawberry.type
class OfferMutation:
    @strawberry.mutation(permission_classes=MARKETER, description="Define a new offer.")
    async def create_offer(self, info: Info[Context, None], input: OfferInput) -> OfferResult:
        ctx = info.context
        args, errors = await _validated(ctx, input)
        if args is None:
            return InvalidInput(message="offer not saved", errors=errors)
        row = await ctx.pool.fetchrow(Q.insert_offer, *args[:11], ctx.principal.label)
        assert row is not None
        return OfferType.of(row)

    @strawberry.mutation(permission_classes=MARKETER, description="Replace an offer's definition.")
    async def update_offer(
        self, info: Info[Context, None], offer_id: strawberry.ID, input: OfferInput
    ) -> OfferResult:
        ctx = info.context
        args, errors = await _validated(ctx, input)
        if args is None:
            return InvalidInput(message="offer not saved", errors=errors)
        oid = row_id(offer_id)
        row = await ctx.pool.fetchrow(Q.update_offer, oid, *args)
        if row is None:
            return InvalidInput(
                message="offer not saved", errors=[FieldError(field="offerId", message="no such offer")]
            )
        return OfferType.of(row)


async def _serve_within_caps(
    ctx: Context, guard: Guard, user_id: int, qualified: list[Qualified], device_id: str | None
) -> list[Qualified]:
    """Record impressions for as many qualifying offers as the caps allow, atomically per user."""
    cfg = ctx.config.personalization
    served: list[Qualified] = []
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.lock_user_offer_caps, user_id)
        for q in qualified:
            if len(served) >= cfg.offers_per_request:
                break
            row = await guard.fetchrow(
                Q.record_impression_within_caps,
                user_id,
                q.offer.offer_id,
                device_id,
                q.offer.channel,
                q.offer.cap_per_window,
                q.offer.cap_window_hours or 1,
                cfg.user_offer_cap,
                cfg.user_offer_cap_window_hours,
                # Counting what we showed is not profiling: account-kind data, so the welcome gift a
                # minor may get is capped too.
                purpose=OFFERS,
                source=Source.ACCOUNT,
                tables=("impressions",),
                subject_user_id=user_id,
                conn=conn,
            )
            if row is not None:
                served.append(q)
    return served


async def viewer_offers(info: Info[Context, None], user_id: int, surface: Surface) -> list[ServedOffer]:
    ctx = info.context
    guard = await ctx.guard()
    consent = guard.snapshot
    if not consent.allows(OFFERS, Source.ACCOUNT):  # GPC, objection, level, no consent: not read at all
        return []
    facts = await load_user_facts(guard, user_id)
    if facts is None:
        return []
    now = datetime.now(UTC)
    cfg = ctx.config.personalization
    catalog = await CATALOG.get(ctx.pool, cfg.catalog_ttl_s)
    attrs = attribute_values(facts, consent, catalog, ctx.config.tags, now, cfg.spend_window_days)
    offer_rows = {r["offer_id"]: r for r in await ctx.pool.fetch(Q.active_offers)}
    offers = [_offer(r) for r in offer_rows.values()]
    segments = await live_segments(ctx.pool)
    qualified = decide_offers(
        offers, segments, attrs, facts.signals, facts.hidden, consent, surface.value, cfg, now
    )
    if not qualified:
        return []
    device = ctx.request.headers.get("x-device-id") if ctx.request is not None else None
    served = await _serve_within_caps(ctx, guard, user_id, qualified, device)
    ctx.log_decisions([q.record for q in served])
    return [
        ServedOffer(offer=OfferType.of(offer_rows[q.offer.offer_id]), why=render_why(q.record))
        for q in served
    ]

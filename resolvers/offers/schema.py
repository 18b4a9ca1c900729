"""Offers over GraphQL: marketers define them; a user's `viewer { offers }` runs the pure
targeting over the user model and the rulebook, then serves qualifying offers only while their
frequency caps allow. The cap checks and the impression inserts are one statement under a lock
on the user's own row (`serve_offers`), so two devices or two workers can never both take the
last slot (strictest of offer and user cap wins)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import asyncpg
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.principal import Role
from privacy.purposes import OFFERS, PROFILING, Source
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.ids import row_id
from resolvers.common.permissions import require
from resolvers.context import Context
from resolvers.experiments.engine import RUNNING, enrollment
from resolvers.experiments.rules import Surface as ExperimentSurface
from resolvers.explain.record import Why, render_why
from resolvers.model.surfaces import Surface
from resolvers.model.user import UserModel
from resolvers.offers.input import parse_offer
from resolvers.offers.rules import LIVE_OFFERS, Person, Qualified, qualify_offers
from resolvers.segments.rules import LIVE_SEGMENTS
from sql import load_queries

Q = load_queries()
MARKETER = [require(Role.MARKETER, Role.ADMIN)]


@strawberry.type(name="Offer", description="A marketer-defined offer.")
class OfferType:
    offer_id: strawberry.Private[int]
    name: str = strawberry.field(description="Display name (1..120 characters).")
    kind: str = strawberry.field(
        description=(
            "What qualifies a person: welcome (joined recently), abandoned_cart (cart left "
            "idle), re_engagement (inactive for a while), spend_over (spent over a threshold "
            "in the spend window) or segment (the segment alone decides)."
        )
    )
    discount_pct: int | None = strawberry.field(description="Discount in percent, 0..100; null for none.")
    surface: str = strawberry.field(
        description="The surface it is served on, a Surface value in lower case (offers by default)."
    )
    channel: str | None = strawberry.field(
        description=(
            "The channel it is meant for (email, sms, push, in_app), recorded with each "
            "impression; null for none."
        )
    )
    item_id: strawberry.ID | None = strawberry.field(
        description=("The item the offer is about; null for a general offer. Sensitive items are refused.")
    )
    segment_id: strawberry.ID | None = strawberry.field(
        description=(
            "An audience (segment) the person must also match; required for kind segment, "
            "null for no audience."
        )
    )
    params: JSON = strawberry.field(
        description=(
            "The kind's parameters, whole numbers: welcome {max_days}, abandoned_cart "
            "{min_cart_value_cents, idle_minutes}, re_engagement {days_inactive}, spend_over "
            "{min_spend_cents}; a missing one takes the configured default."
        )
    )
    cap_per_window: int | None = strawberry.field(
        description=(
            "Frequency cap: at most this many impressions per person per window (1..1000); "
            "null for no cap (set together with capWindowHours)."
        )
    )
    cap_window_hours: int | None = strawberry.field(
        description="The frequency cap's window in hours (1..8760); null when there is no cap."
    )
    priority: int = strawberry.field(
        description="Served before offers of lower priority (-1000..1000, default 0)."
    )
    active: bool = strawberry.field(description="Only active offers are served.")

    @strawberry.field(description="The offer id (as in `why.rule` and control targets offer:<id>).")
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
    offer: OfferType = strawberry.field(description="The offer's definition as marketers see it.")
    why: Why = strawberry.field(description="Why it was chosen for you; offers HIDE for the offer.")


@strawberry.input(description="An offer's whole definition (create, or replace on update).")
class OfferInput:
    name: str = strawberry.field(description="Display name (1..120 characters).")
    kind: str = strawberry.field(
        description=(
            "What qualifies a person: welcome (joined recently), abandoned_cart (cart left "
            "idle), re_engagement (inactive for a while), spend_over (spent over a threshold "
            "in the spend window) or segment (the segment alone decides)."
        )
    )
    segment_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "An audience (segment) the person must also match; required for kind segment, "
            "null for no audience."
        ),
    )
    item_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=("The item the offer is about; null for a general offer. Sensitive items are refused."),
    )
    discount_pct: int | None = strawberry.field(
        default=None, description="Discount in percent, 0..100; null for none."
    )
    surface: str = strawberry.field(
        default="offers",
        description="The surface it is served on, a Surface value in lower case (offers by default).",
    )
    channel: str | None = strawberry.field(
        default=None,
        description=(
            "The channel it is meant for (email, sms, push, in_app), recorded with each "
            "impression; null for none."
        ),
    )
    # Null, not {}: an object default cannot be rendered in introspection's defaultValue.
    params: JSON | None = strawberry.field(
        default=None,
        description=(
            "The kind's parameters, whole numbers: welcome {max_days}, abandoned_cart "
            "{min_cart_value_cents, idle_minutes}, re_engagement {days_inactive}, spend_over "
            "{min_spend_cents}; a missing one takes the configured default. Null means {}."
        ),
    )
    cap_per_window: int | None = strawberry.field(
        default=None,
        description=(
            "Frequency cap: at most this many impressions per person per window (1..1000); "
            "null for no cap (set together with capWindowHours)."
        ),
    )
    cap_window_hours: int | None = strawberry.field(
        default=None, description="The frequency cap's window in hours (1..8760); null when there is no cap."
    )
    priority: int = strawberry.field(
        default=0, description="Served before offers of lower priority (-1000..1000, default 0)."
    )
    active: bool = strawberry.field(default=True, description="Only active offers are served.")


OfferResult = Annotated[
    OfferType | InvalidInput,
    strawberry.union(
        "OfferResult",
        description=(
            "The saved offer, or InvalidInput (bad fields or params, unknown item or segment,"
            " sensitive item)."
        ),
    ),
]


async def _validated(ctx: Context, data: OfferInput) -> tuple[dict[str, Any] | None, list[FieldError]]:
    raw = dict(vars(data))
    if raw["params"] is None:
        raw["params"] = {}
    for key in ("segment_id", "item_id"):
        if raw[key] is not None:
            raw[key] = row_id(raw[key])
    spec, errors = parse_offer(raw)
    if spec is None:
        return None, errors
    catalog = await ctx.catalog()
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
    return {c: d[c] for c in columns}, []


@strawberry.type
class OfferMutation:
    @strawberry.mutation(permission_classes=MARKETER, description="Define a new offer.")
    async def create_offer(
        self,
        info: Info[Context, None],
        input: Annotated[OfferInput, strawberry.argument(description="The offer's definition.")],
    ) -> OfferResult:
        ctx = info.context
        args, errors = await _validated(ctx, input)
        if args is None:
            return InvalidInput(message="offer not saved", errors=errors)
        row = await ctx.pool.fetchrow(*Q.insert_offer.bind(**args, created_by=ctx.principal.label))
        assert row is not None
        return OfferType.of(row)

    @strawberry.mutation(permission_classes=MARKETER, description="Replace an offer's definition.")
    async def update_offer(
        self,
        info: Info[Context, None],
        offer_id: Annotated[strawberry.ID, strawberry.argument(description="The offer to replace.")],
        input: Annotated[OfferInput, strawberry.argument(description="Its new definition (all fields).")],
    ) -> OfferResult:
        ctx = info.context
        args, errors = await _validated(ctx, input)
        if args is None:
            return InvalidInput(message="offer not saved", errors=errors)
        oid = row_id(offer_id)
        row = await ctx.pool.fetchrow(*Q.update_offer.bind(**args, offer_id=oid))
        if row is None:
            return InvalidInput(
                message="offer not saved", errors=[FieldError(field="offerId", message="no such offer")]
            )
        return OfferType.of(row)


async def _serve_within_caps(ctx: Context, model: UserModel, qualified: list[Qualified]) -> list[Qualified]:
    """Record impressions for as many qualifying offers as the caps allow, atomically per user."""
    assert model.user_id is not None
    cfg = ctx.config.offers
    device = ctx.request.headers.get("x-device-id") if ctx.request is not None else None
    rows = await model.guard.write(
        Q.serve_offers,
        # Counting what we showed is not profiling: account-kind data, so the welcome gift a minor
        # may get is capped too.
        purpose=OFFERS,
        source=Source.ACCOUNT,
        tables=("impressions",),
        subject_user_id=model.user_id,
        offers=[q.offer.offer_id for q in qualified],
        caps=[q.offer.cap_per_window for q in qualified],
        windows=[q.offer.cap_window_hours or 1 for q in qualified],
        channels=[q.offer.channel for q in qualified],
        device=device[:200] if device else None,
        user_cap=cfg.user_offer_cap,
        user_window_hours=cfg.user_offer_cap_window_hours,
        max=cfg.offers_per_request,
    )
    served = {r["offer_id"] for r in rows}
    return [q for q in qualified if q.offer.offer_id in served]


async def _offer_choice(ctx: Context, qualified: list[Qualified]) -> list[Qualified]:
    """An OFFER_CHOICE experiment's variant: of the offers the experiment compares, only the
    variant's own are shown, and their why names the experiment. Enrolled (and exposed) only when
    one of the compared offers qualified, the only case the variant changes anything."""
    running = (await ctx.reference(RUNNING)).get(ExperimentSurface.OFFER_CHOICE, ())
    compared = frozenset().union(*(e.definition.competing_offers for e in running))
    if not any(q.offer.offer_id in compared for q in qualified):
        return qualified
    exp = await enrollment(ctx, ExperimentSurface.OFFER_CHOICE)
    if exp is None or exp.is_control:
        return qualified
    mine = frozenset(exp.variant.value["offerIds"])
    others = exp.experiment.definition.competing_offers - mine
    out: list[Qualified] = []
    for q in qualified:
        if q.offer.offer_id in others:
            continue
        if q.offer.offer_id in mine:
            r = q.record
            q = replace(
                q, record=replace(r, reasons=(exp.reason, *r.reasons), controls=(exp.control, *r.controls))
            )
        out.append(q)
    return out


async def offer_person(ctx: Context, model: UserModel) -> Person:
    """What offer targeting sees of the signed-in person, read through their user model (each
    read under its own purpose, audited; nothing read that the snapshot refuses)."""
    facts = model.account_facts
    assert facts is not None
    profiling = model.allows(PROFILING, Source.DERIVED)
    return Person(
        consent=model.consent,
        facts=facts,
        offer_signals=await model.signals(OFFERS),
        profiling_signals=await model.signals(PROFILING) if profiling else None,
        tags=await model.tags(ctx.config.tags),
        propensity=await model.propensity(),
        controls=model.controls,
    )


async def viewer_offers(info: Info[Context, None], surface: Surface) -> list[ServedOffer]:
    ctx = info.context
    model = await ctx.model()
    if not model.allows(OFFERS, Source.ACCOUNT):  # GPC, objection, level, no consent: not read at all
        return []
    catalog = await ctx.catalog()
    live = await ctx.reference(LIVE_OFFERS)
    offers = [o for o, _ in live.values() if o.surface == surface.value]
    if not offers:
        return []
    person = await offer_person(ctx, model)
    segments = await ctx.reference(LIVE_SEGMENTS)
    qualified = qualify_offers(
        offers, segments, person, catalog, surface.value, ctx.config.offers, model.now,
        ctx.config.model.spend_window_days,
    )  # fmt: skip
    if not qualified:
        return []
    qualified = await _offer_choice(ctx, qualified)
    if not qualified:
        return []
    served = await _serve_within_caps(ctx, model, qualified)
    ctx.log_decisions([q.record for q in served])
    return [
        ServedOffer(offer=OfferType.of(live[q.offer.offer_id][1]), why=render_why(q.record, ctx.language))
        for q in served
    ]

"""`trackEvents`: the GraphQL face of event ingestion (rules in resolvers.events.ingest).

Role `user` sends their own events (userId absent or their own); role `app` sends events for
users (userId required). To a user the result says per event what happened: accepted, duplicate
(already stored: a resend is a no-op) or dropped for lack of consent. An app is told less: every
valid event is acknowledged as accepted, and events for an unknown user id are acknowledged and
dropped like those of a user who consented to nothing, because telling them apart would let an
app learn whether a person exists and what they consented to. Malformed events still get their
field-level errors."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.types import Info

from privacy.consent import ConsentSnapshot
from privacy.principal import Role
from privacy.purposes import ESSENTIAL
from privacy.snapshots import BatchGuard, load_snapshots
from privacy.vocabulary import EventType, Platform
from resolvers.common.errors import FieldError, Forbidden, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context
from resolvers.events.ingest import OFFER_EVENTS, Checked, check, parse
from resolvers.offers.rules import LIVE_OFFERS
from sql import load_queries

Q = load_queries()


@strawberry.input(description="One event. `id` is a client-generated UUID: resending it is a no-op.")
class EventInput:
    id: strawberry.ID = strawberry.field(description="A client-generated UUID for this event.")
    type: EventType = strawberry.field(
        description=(
            "What happened; decides which of itemId, value, query and feature are required or refused."
        )
    )
    occurred_at: datetime = strawberry.field(
        description=(
            "When it happened (ISO 8601); not in the future, not older than the configured maximum age."
        )
    )
    user_id: strawberry.ID | None = strawberry.field(default=None, description="Required for role app.")
    item_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The item (required for view, click, dwell, cart, purchase and booking events; "
            "refused for others)."
        ),
    )
    value: int | None = strawberry.field(
        default=None,
        description="dwell: ms (required); purchase: cents (default: the item's price); "
        "add_to_cart / remove_from_cart: quantity (default 1); booking: party size.",
    )
    query: str | None = strawberry.field(default=None, description="search only.")
    feature: str | None = strawberry.field(default=None, description="feature_used only, e.g. 'wishlist'.")
    platform: Platform | None = strawberry.field(default=None, description="The platform it happened on.")
    offer_id: strawberry.ID | None = strawberry.field(
        default=None, description="offer_click / offer_redemption only: the offer clicked or redeemed."
    )


@strawberry.type(
    description="What became of a batch; ids are the events' own ids. An app is told only that each "
    "valid event was received (all `accepted`): whether it was stored, already stored, or not kept "
    "(no consent, or no such user) is the person's business."
)
class TrackEventsResult:
    accepted: int = strawberry.field(
        description="How many events were stored (for an app: how many valid events were received)."
    )
    duplicates: int = strawberry.field(
        description="How many were already stored (same id); always 0 for an app."
    )
    dropped_no_consent: int = strawberry.field(
        description=("How many behavioural events were not stored for lack of consent; always 0 for an app.")
    )
    accepted_ids: list[strawberry.ID] = strawberry.field(description="Ids of the accepted events.")
    duplicate_ids: list[strawberry.ID] = strawberry.field(description="Ids of the duplicates.")
    dropped_no_consent_ids: list[strawberry.ID] = strawberry.field(
        description="Behavioural events not stored: no purpose that uses them is consented to."
    )


TrackEventsPayload = Annotated[
    TrackEventsResult | InvalidInput,
    strawberry.union(
        "TrackEventsPayload",
        description=(
            "What became of the batch, or InvalidInput with one error per bad event (then nothing is stored)."
        ),
    ),
]


def _keep_mapping(cls: type, value: Mapping[str, Any], context: object) -> Mapping[str, Any]:
    """Build EventInput values as the mapping graphql-core already coerced against the schema.

    A batch holds up to 1,000 events and Strawberry's generic per-field conversion of them cost
    more than the whole database write; pydantic (ingest.EventModel, by GraphQL names) builds the
    events instead. `from_input` is Strawberry's hook for integrations that build inputs themselves."""
    return value


EventInput.__strawberry_definition__.from_input = _keep_mapping  # type: ignore[attr-defined]


def _raw(e: Mapping[str, Any]) -> dict[str, Any]:
    raw = dict(e)
    for key in ("type", "platform"):
        if isinstance(raw.get(key), Enum):
            raw[key] = raw[key].value
    return raw


async def _owners(
    ctx: Context, user_ids: list[int | None]
) -> tuple[list[int | None], dict[int, ConsentSnapshot], list[FieldError]]:
    """Whose each event is, with their consent snapshots, or field errors for refused ids."""
    errors: list[FieldError] = []
    if ctx.principal.role is Role.USER:
        guard = await ctx.guard()
        me = guard.snapshot.user_id
        if me is None:
            raise Forbidden("unknown user")
        for i, uid in enumerate(user_ids):
            if uid is not None and uid != me:
                errors.append(
                    FieldError(
                        field=f"events[{i}].userId", message="you can only send your own events", index=i
                    )
                )
        return [me] * len(user_ids), {me: guard.snapshot}, errors
    snapshots = await load_snapshots(ctx.pool, [u for u in user_ids if u is not None], ctx.gpc)
    for i, uid in enumerate(user_ids):
        if uid is None:
            errors.append(FieldError(field=f"events[{i}].userId", message="required for role app", index=i))
    return [u if u in snapshots else None for u in user_ids], snapshots, errors


# What a batch's write audit names: the events the principal sent. The rollups (user_signals,
# user_spend_days, user_purchases, user_cart, user_features, user_searches, user_category_stats)
# are derived from those events by the database in the same statement (apply_rollups), never
# written by a principal, so one entry per user and batch says all a person can learn from eight:
# who sent events about them, when, under which purpose (an entry per rollup table cost 700 audit
# rows per batch of 100 users, 40% of the statement's time).
INGEST_TABLES = ("events",)


async def _write(ctx: Context, batch: Checked, snapshots: dict[int, ConsentSnapshot]) -> set[uuid.UUID]:
    """Store the batch, its rollups and the audit entries of the write in one statement (one
    commit per batch); the ids actually inserted."""
    if not batch.store:
        return set()
    s = batch.store
    cfg = ctx.config
    guard = BatchGuard(ctx.pool, ctx.principal, ctx.request_id, snapshots)
    rows = await guard.write_audited(
        Q.ingest_events,
        purpose=ESSENTIAL,
        tables=INGEST_TABLES,
        user_ids=[e.user_id for e in s],
        event_ids=[e.event_id for e in s],
        types=[e.type.value for e in s],
        item_ids=[e.item_id for e in s],
        values=[e.value for e in s],
        features=[e.feature for e in s],
        queries=[e.query for e in s],
        platforms=[e.platform for e in s],
        occurred_at=[e.occurred_at for e in s],
        offer_ids=[e.offer_id for e in s],
        max_features=cfg.ingest.max_features_per_user,
        max_searches=cfg.model.searches_kept,
        max_purchases=cfg.ingest.max_purchased_items_per_user,
        max_cart_lines=cfg.ingest.max_cart_lines_per_user,
    )
    return {r["event_id"] for r in rows}


def _ids(ids: list[uuid.UUID]) -> list[strawberry.ID]:
    return [strawberry.ID(str(i)) for i in ids]


@strawberry.type
class EventsMutation:
    @strawberry.mutation(
        description="Record a batch of 1..1000 events, all or nothing.",
        permission_classes=[require(Role.USER, Role.APP)],
    )
    async def track_events(
        self,
        info: Info[Context, None],
        events: Annotated[
            list[EventInput], strawberry.argument(description="1 to 1000 events, stored all or nothing.")
        ],
    ) -> TrackEventsPayload:
        ctx = info.context
        # Each event is the mapping graphql-core coerced (see _keep_mapping), not an EventInput.
        models, errors = parse([_raw(cast(Mapping[str, Any], e)) for e in events], ctx.config.ingest)
        if not models:
            return InvalidInput(message="no event was stored", errors=errors)
        owners, snapshots, owner_errors = await _owners(ctx, [m.user_id if m else None for m in models])
        owner_errors = [e for e in owner_errors if e.index is None or models[e.index] is not None]
        item_ids = sorted({m.item_id for m in models if m is not None and m.item_id is not None})
        # Session and feature events name no item: skip the catalog round trip for them.
        rows = await ctx.pool.fetch(Q.items_for_events, item_ids) if item_ids else []
        items = {r["item_id"]: (r["kind"], r["price_cents"]) for r in rows}
        # Offer outcomes name an offer: the live offers are reference data, cached per worker.
        offers = (
            frozenset((await ctx.reference(LIVE_OFFERS)).keys())
            if any(m is not None and (m.offer_id is not None or m.type in OFFER_EVENTS) for m in models)
            else frozenset()
        )
        checked = check(models, owners, snapshots, items, ctx.config.ingest, datetime.now(UTC), offers)
        errors += owner_errors + (checked if isinstance(checked, list) else [])
        if errors or isinstance(checked, list):
            errors.sort(key=lambda e: (e.index if e.index is not None else -1, e.field))
            return InvalidInput(message="no event was stored", errors=errors)
        inserted = await _write(ctx, checked, snapshots)
        if ctx.principal.role is Role.APP:  # see the module doc
            received = [m.id for m in models if m is not None]
            return TrackEventsResult(
                accepted=len(received),
                duplicates=0,
                dropped_no_consent=0,
                accepted_ids=_ids(received),
                duplicate_ids=[],
                dropped_no_consent_ids=[],
            )
        accepted: list[uuid.UUID] = []
        duplicates: list[uuid.UUID] = []
        for event_id in (e.event_id for e in checked.store):
            # An id sent twice in one batch is inserted once; its second copy is a duplicate.
            if event_id in inserted:
                accepted.append(event_id)
                inserted.discard(event_id)
            else:
                duplicates.append(event_id)
        return TrackEventsResult(
            accepted=len(accepted),
            duplicates=len(duplicates),
            dropped_no_consent=len(checked.dropped),
            accepted_ids=_ids(accepted),
            duplicate_ids=_ids(duplicates),
            dropped_no_consent_ids=_ids(checked.dropped),
        )

"""Event ingestion: validate a batch (all or nothing, every problem named by index and field),
drop behavioural events the user allowed no purpose for, and store the rest with their rollups in
one transaction of two statements, whatever the batch size.

Consistency under concurrent batches for one user: `lock_user_signals` locks the user's rollup
row first (in id order, so batches for several users never deadlock), then `ingest_events`
inserts with ON CONFLICT DO NOTHING and applies the increments of only the rows it inserted."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from privacy.consent import ConsentSnapshot
from privacy.purposes import ANALYTICS, Source
from privacy.vocabulary import EventType
from resolvers.common.errors import FieldError
from resolvers.common.ids import RowId
from resolvers.events.config import IngestConfig

# Purposes that may use behavioural events; with none of them allowed, such events are not kept.
BEHAVIOURAL_PURPOSES = ("personalize.content", "personalize.profiling", "analytics.aggregate")
_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


BEHAVIOURAL = frozenset({EventType.VIEW, EventType.CLICK, EventType.DWELL, EventType.SEARCH})
# Offer outcomes measure offers and experiments: kept only when analytics.aggregate may use them.
OFFER_EVENTS = frozenset({EventType.OFFER_CLICK, EventType.OFFER_REDEMPTION})
# Which item kind an event needs (None: any kind); events absent here carry no item.
ITEM_KIND: dict[EventType, str | None] = {
    EventType.VIEW: None,
    EventType.CLICK: None,
    EventType.DWELL: None,
    EventType.ADD_TO_CART: "product",
    EventType.REMOVE_FROM_CART: "product",
    EventType.PURCHASE: "product",
    EventType.BOOKING: "restaurant",
}


class EventModel(BaseModel):
    """Types and single-field bounds; the rules across fields are in `_check`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    id: uuid.UUID
    type: EventType
    occurred_at: AwareDatetime
    user_id: RowId | None = None
    item_id: RowId | None = None
    value: int | None = None
    query: str | None = Field(default=None, min_length=1, max_length=200)
    feature: str | None = None
    platform: str | None = None
    offer_id: RowId | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    user_id: int
    event_id: uuid.UUID
    type: EventType
    item_id: int | None
    value: int | None
    feature: str | None
    query: str | None
    platform: str | None
    occurred_at: datetime
    offer_id: int | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid batch split into what is written and what the user's consent keeps out."""

    store: list[StoredEvent]
    dropped: list[uuid.UUID]


def _field(index: int, name: str, message: str) -> FieldError:
    return FieldError(field=f"events[{index}].{name}", message=message, index=index)


def parse(
    raw: Sequence[Mapping[str, Any]], cfg: IngestConfig
) -> tuple[list[EventModel | None], list[FieldError]]:
    """Each event parsed on its own, so one bad event does not hide the others' problems."""
    if not 1 <= len(raw) <= cfg.max_batch:
        return [], [
            FieldError(field="events", message=f"send between 1 and {cfg.max_batch} events per batch")
        ]
    models: list[EventModel | None] = []
    errors: list[FieldError] = []
    for i, item in enumerate(raw):
        try:
            models.append(EventModel.model_validate(item))
        except ValidationError as exc:
            models.append(None)
            for err in exc.errors(include_url=False, include_input=False):
                name = ".".join(to_camel(str(p)) for p in err["loc"])
                errors.append(_field(i, name, err["msg"]))
    return models, errors


def _value_bounds(cfg: IngestConfig) -> dict[EventType, tuple[int, int]]:
    """Allowed range of `value` per kind; a kind absent here takes no value."""
    return {
        EventType.DWELL: (1, cfg.max_dwell_ms),
        EventType.PURCHASE: (0, cfg.max_amount_cents),
        EventType.ADD_TO_CART: (1, cfg.max_quantity),
        EventType.REMOVE_FROM_CART: (1, cfg.max_quantity),
        EventType.BOOKING: (1, cfg.max_party_size),
    }


@dataclass(frozen=True, slots=True)
class _Limits:
    """What every event of a batch is checked against, worked out once per batch."""

    latest: datetime  # now plus the allowed clock skew
    earliest: datetime  # now minus the maximum age
    values: dict[EventType, tuple[int, int]]

    @classmethod
    def of(cls, cfg: IngestConfig, now: datetime) -> _Limits:
        return cls(
            now + timedelta(seconds=cfg.future_skew_s),
            now - timedelta(days=cfg.max_age_days),
            _value_bounds(cfg),
        )


def _check(
    i: int,
    ev: EventModel,
    cfg: IngestConfig,
    limits: _Limits,
    items: Mapping[int, tuple[str, int]],
    offers: frozenset[int] = frozenset(),
) -> list[FieldError]:
    errors: list[FieldError] = []
    if ev.type in OFFER_EVENTS:
        if ev.offer_id is None:
            errors.append(_field(i, "offerId", f"is required for {ev.type.value}"))
        elif ev.offer_id not in offers:
            errors.append(_field(i, "offerId", "no such offer"))
    elif ev.offer_id is not None:
        errors.append(_field(i, "offerId", f"{ev.type.value} takes no offer"))
    if ev.occurred_at > limits.latest:
        errors.append(_field(i, "occurredAt", "is in the future"))
    elif ev.occurred_at < limits.earliest:
        errors.append(_field(i, "occurredAt", f"is more than {cfg.max_age_days} days old"))
    if ev.type in ITEM_KIND:
        want = ITEM_KIND[ev.type]
        if ev.item_id is None:
            errors.append(_field(i, "itemId", f"is required for {ev.type.value}"))
        elif ev.item_id not in items:
            errors.append(_field(i, "itemId", "no such item"))
        elif want is not None and items[ev.item_id][0] != want:
            errors.append(_field(i, "itemId", f"{ev.type.value} needs a {want} item"))
    elif ev.item_id is not None:
        errors.append(_field(i, "itemId", f"{ev.type.value} takes no item"))
    bounds = limits.values.get(ev.type)
    if bounds is None and ev.value is not None:
        errors.append(_field(i, "value", f"{ev.type.value} takes no value"))
    elif bounds is not None and ev.value is None and ev.type is EventType.DWELL:
        errors.append(_field(i, "value", "dwell needs its duration in ms"))
    elif bounds is not None and ev.value is not None and not bounds[0] <= ev.value <= bounds[1]:
        errors.append(_field(i, "value", f"must be between {bounds[0]} and {bounds[1]}"))
    if ev.type is EventType.SEARCH:
        if ev.query is None or not ev.query.strip():
            errors.append(_field(i, "query", "search needs a query"))
    elif ev.query is not None:
        errors.append(_field(i, "query", f"{ev.type.value} takes no query"))
    if ev.type is EventType.FEATURE_USED:
        if ev.feature is None or not _FEATURE.fullmatch(ev.feature):
            errors.append(_field(i, "feature", "feature_used needs a feature name like 'wishlist'"))
    elif ev.feature is not None:
        errors.append(_field(i, "feature", f"{ev.type.value} takes no feature"))
    return errors


def keeps_offer_outcomes(snapshot: ConsentSnapshot) -> bool:
    """Offer clicks and redemptions are recorded only under the analytics purpose."""
    return snapshot.allows(ANALYTICS, Source.BEHAVIOURAL)


def keeps_behaviour(snapshot: ConsentSnapshot) -> bool:
    """Whether any purpose that uses behavioural events is allowed for this user."""
    return any(snapshot.allows(p, Source.BEHAVIOURAL) for p in BEHAVIOURAL_PURPOSES)


def check(
    events: Sequence[EventModel | None],
    owners: Sequence[int | None],
    snapshots: Mapping[int, ConsentSnapshot],
    items: Mapping[int, tuple[str, int]],
    cfg: IngestConfig,
    now: datetime,
    offers: frozenset[int] = frozenset(),
) -> Checked | list[FieldError]:
    """`events[i]` is None when it did not parse; `owners[i]` is the user event i belongs to
    (None: refused). Both were reported by the caller; this adds the rules across fields."""
    errors: list[FieldError] = []
    store: list[StoredEvent] = []
    dropped: list[uuid.UUID] = []
    limits = _Limits.of(cfg, now)
    # Per owner, asked once per batch: a snapshot is the same for every event of its owner.
    behaviour: dict[int, bool] = {}
    outcomes: dict[int, bool] = {}
    for i, (ev, owner) in enumerate(zip(events, owners, strict=True)):
        if ev is None:
            continue
        errors.extend(_check(i, ev, cfg, limits, items, offers))
        if errors or owner is None:
            continue
        if ev.type in BEHAVIOURAL:
            keeps = behaviour.get(owner)
            if keeps is None:
                keeps = behaviour[owner] = keeps_behaviour(snapshots[owner])
            if not keeps:
                dropped.append(ev.id)
                continue
        if ev.type in OFFER_EVENTS:
            keeps = outcomes.get(owner)
            if keeps is None:
                keeps = outcomes[owner] = keeps_offer_outcomes(snapshots[owner])
            if not keeps:
                dropped.append(ev.id)
                continue
        value = ev.value
        if ev.type is EventType.PURCHASE and value is None and ev.item_id is not None:
            value = items[ev.item_id][1]  # default: the item's price
        store.append(
            StoredEvent(
                owner,
                ev.id,
                ev.type,
                ev.item_id,
                value,
                ev.feature,
                ev.query,
                ev.platform,
                ev.occurred_at,
                ev.offer_id,
            )
        )
    if errors:
        return errors
    store.sort(key=lambda e: (e.user_id, e.event_id))
    return Checked(store, dropped)

"""The rulebook: one set of exclusions and one diversity rule for every surface that proposes
items (the feed on every surface, offers, reminders, and whatever is added later), so a rule kept
by one surface cannot be broken by another.

Exclusions, each with the reason it is written to the decision's criteria:
- sensitive items are never proposed on a personalized path (privacy/sensitive.py);
- what the person hid (an item, an offer) or stopped reminders for;
- already bought: an owned durable, its substitutes and its subcategory (bought a phone: no phones,
  in the feed, in offers, in reminders); a consumable until its repurchase cycle is due;
- in the cart (recommendations only: an abandoned-cart offer is about the cart).
"Show less like this" does not exclude: it multiplies a score by `less_like_factor`.

Diversity (`diversify`): at most `max_per_subcategory` items of one subcategory in a page, at
most `max_per_purchase` complements of any one purchase, and no more than `max_run` of those in
a row when something else can go between them; what does not fit is kept, in order, behind
everything that does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from resolvers.model.catalog import Catalog, Item
from resolvers.model.controls import NO_CONTROLS, Controls
from resolvers.model.signals import SignalSnapshot

T = TypeVar("T")


class Exclusion(StrEnum):
    SENSITIVE = "sensitive"
    HIDDEN = "you hid it"
    BOUGHT = "you already bought it"
    SUBSTITUTE = "you already bought something that replaces it"
    SAME_KIND = "you already own one of these"
    NOT_DUE = "you bought it recently"
    IN_CART = "it is already in your cart"
    OFFER_HIDDEN = "you hid this offer"
    REMINDERS_STOPPED = "you stopped reminders for it"


@dataclass(frozen=True)
class Rulebook:
    catalog: Catalog
    owned: dict[int, Exclusion]  # bought-related exclusions by item
    owned_kinds: frozenset[tuple[str, str]]  # (category, subcategory) of owned durables
    cart: frozenset[int]
    controls: Controls

    @classmethod
    def build(
        cls, catalog: Catalog, signals: SignalSnapshot | None, controls: Controls, now: datetime
    ) -> Rulebook:
        owned: dict[int, Exclusion] = {}
        kinds: set[tuple[str, str]] = set()
        for item_id, bought_at in (signals.purchased_items if signals else {}).items():
            item = catalog.items.get(item_id)
            if item is None:
                continue
            if item.is_consumable:
                assert item.repurchase_days is not None
                if (now - bought_at).days < item.repurchase_days:
                    owned[item_id] = Exclusion.NOT_DUE
                continue
            owned[item_id] = Exclusion.BOUGHT
            for sub in catalog.substitutes.get(item_id, frozenset()):
                owned.setdefault(sub, Exclusion.SUBSTITUTE)
            if item.kind == "product":
                kinds.add((item.category, item.subcategory))
        return cls(catalog, owned, frozenset(kinds), frozenset(signals.cart if signals else ()), controls)

    @classmethod
    def anonymous(cls, catalog: Catalog) -> Rulebook:
        return cls(catalog, {}, frozenset(), frozenset(), NO_CONTROLS)

    def excludes(self, item: Item, *, recommending: bool = True) -> Exclusion | None:
        """Why `item` may not be proposed to this person, or None. `recommending`: the cart
        rule applies (a recommendation never proposes what is already in the cart)."""
        if item.sensitive:
            return Exclusion.SENSITIVE
        if item.item_id in self.controls.hidden_items:
            return Exclusion.HIDDEN
        owned = self.owned.get(item.item_id)
        if owned is not None:
            return owned
        if item.kind == "product" and (item.category, item.subcategory) in self.owned_kinds:
            return Exclusion.SAME_KIND
        if recommending and item.item_id in self.cart:
            return Exclusion.IN_CART
        return None

    def excludes_offer(self, offer_id: int, item_id: int | None) -> Exclusion | None:
        """An offer is not shown when the person hid it or the rulebook excludes its item."""
        if offer_id in self.controls.hidden_offers:
            return Exclusion.OFFER_HIDDEN
        if item_id is None:
            return None
        item = self.catalog.items.get(item_id)
        if item is None:
            return Exclusion.HIDDEN  # no longer in the catalog: nothing to offer
        return self.excludes(item, recommending=False)

    def excludes_reminder(self, item: Item) -> Exclusion | None:
        """A reminder is for a due consumable the person bought: only the person's own wishes
        and the sensitive rule apply (reminders go to a channel others may see)."""
        if item.sensitive:
            return Exclusion.SENSITIVE
        if item.item_id in self.controls.hidden_items:
            return Exclusion.HIDDEN
        if item.item_id in self.controls.muted_reminders:
            return Exclusion.REMINDERS_STOPPED
        return None

    def less_like(self, item: Item) -> bool:
        return self.controls.wants_less(item.category, item.subcategory)


def diversify(
    ranked: Sequence[T],
    kind_of: Callable[[T], tuple[str, str]],
    source_of: Callable[[T], int | None],
    max_per_kind: int,
    max_per_source: int,
    max_run: int = 2,
    limit: int | None = None,
) -> list[T]:
    """Reorder a ranked list (best first) under the diversity rule of the module doc.

    `limit`: only the first `limit` entries are wanted (a page); the greedy choice of each slot
    depends only on the slots before it, so stopping there returns the same head as ordering
    the whole list, without the quadratic tail.

    Greedy and deterministic: the next slot takes the best remaining entry that fits the caps,
    preferring, after `max_run` entries from one source (the purchase a complement comes from),
    one from elsewhere; entries over a cap wait behind all that fit. The best remaining entry
    that fits is always within the first entries of its (category, subcategory) group, so ranking
    only the head of each group gives the same top of the page."""
    kinds: dict[tuple[str, str], int] = {}
    sources: dict[int, int] = {}
    waiting: list[T] = []
    out: list[T] = []
    pending = list(ranked)
    previous: int | None = None
    run = 0
    while pending and (limit is None or len(out) < limit):
        pick = None
        for i, entry in enumerate(pending):
            kind, source = kind_of(entry), source_of(entry)
            if kinds.get(kind, 0) >= max_per_kind or (
                source is not None and sources.get(source, 0) >= max_per_source
            ):
                continue
            if source is not None and source == previous and run >= max_run:
                if pick is None:
                    pick = i  # fits, but only if nothing else does
                continue
            pick = i
            break
        if pick is None:
            waiting.extend(pending)
            break
        entry = pending.pop(pick)
        kind, source = kind_of(entry), source_of(entry)
        kinds[kind] = kinds.get(kind, 0) + 1
        if source is not None:
            sources[source] = sources.get(source, 0) + 1
        run = run + 1 if source is not None and source == previous else 1
        previous = source
        out.append(entry)
    if limit is not None:
        return (out + waiting)[:limit]
    return out + waiting

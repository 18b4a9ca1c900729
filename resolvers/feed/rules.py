"""The feed decision, pure: inputs in (consent snapshot, signal snapshot or stated interests,
catalog), ranked items out, each with the DecisionRecord its `why` is rendered from.

`plan_feed` says which inputs may be read (the resolver loads exactly those through the guard);
`decide_feed` ranks. Personalized ranking = category affinity + complements of purchases +
consumables due again + popularity, with recency decay; it never re-offers an owned durable,
its substitutes or its subcategory (bought a phone: no phones), nor anything in the cart.
Sensitive items never take part in personalization (no reason, no affinity, no complements)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from privacy.consent import ConsentSnapshot, Level
from privacy.purposes import CONTENT, OFFERS, Source
from resolvers.explain.record import DecisionRecord, Mode, Reason, ReasonCode, RuleRef, SignalSource
from resolvers.feed.nonpersonal import controls_for, non_personalized, stated_interest_feed
from resolvers.model.catalog import Catalog, Item
from resolvers.model.personalization_config import FeedWeights
from resolvers.model.signals import SignalSnapshot
from resolvers.model.surfaces import MARKETING_SURFACES, Surface

RANKER = RuleRef(kind="ranker", id="feed", version=1)
PURCHASES = "user.behavior.purchase_history"
BROWSING = "user.behavior.browsing_history"
CART = "user.behavior.cart"


@dataclass(frozen=True, slots=True)
class FeedRequest:
    surface: Surface
    limit: int
    now: datetime
    category: str | None = None


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """What the resolver may read: 'signals', 'interests' or nothing, under which purposes."""

    source: Source | None
    purposes: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Ranked:
    item: Item
    record: DecisionRecord


def plan_feed(consent: ConsentSnapshot, req: FeedRequest, catalog: Catalog) -> FeedPlan:
    if consent.user_id is None or consent.level is Level.NONE:
        return FeedPlan(None, reason="not personalized")
    if req.category is not None and _category_sensitive(catalog, req.category):
        return FeedPlan(None, reason="sensitive category pages are never personalized")
    marketing = req.surface in MARKETING_SURFACES
    if marketing and consent.is_minor:
        return FeedPlan(None, reason="no personalized marketing for minors")
    for source in (Source.BEHAVIOURAL, Source.STATED):
        if source is Source.BEHAVIOURAL and consent.level is not Level.FULL:
            continue
        purposes = (CONTENT, OFFERS) if marketing else (CONTENT,)
        if all(consent.allows(p, source) for p in purposes):
            return FeedPlan(source, purposes)
    return FeedPlan(None, reason="missing consent")


def _category_sensitive(catalog: Catalog, category: str) -> bool:
    return category in catalog.sensitive_categories


def decide_feed(
    req: FeedRequest,
    consent: ConsentSnapshot,
    plan: FeedPlan,
    catalog: Catalog,
    weights: FeedWeights,
    signals: SignalSnapshot | None = None,
    interests: tuple[str, ...] = (),
) -> list[Ranked]:
    sid = consent.snapshot_id
    if plan.source is Source.BEHAVIOURAL and signals is not None and not signals.is_cold:
        return _personalized(req, sid, plan.purposes, catalog, weights, signals)
    if plan.source is Source.STATED and interests:
        return [Ranked(i, r) for i, r in stated_interest_feed(req, sid, plan.purposes, catalog, interests)]
    return [Ranked(i, r) for i, r in non_personalized(req, sid, catalog)]


def _decay(days: float, half_life: float) -> float:
    return float(0.5 ** (max(days, 0.0) / half_life))


@dataclass(frozen=True)
class _Exclusions:
    """Cart items, owned durables with their substitutes and subcategory, consumables not yet due."""

    items: frozenset[int]
    subcategories: frozenset[tuple[str, str]]

    def __contains__(self, item: Item) -> bool:
        return item.item_id in self.items or (item.category, item.subcategory) in self.subcategories


def _exclusions(catalog: Catalog, signals: SignalSnapshot, now: datetime) -> _Exclusions:
    out = set(signals.cart)
    owned_subcategories: set[tuple[str, str]] = set()
    for item_id, bought_at in signals.purchased_items.items():
        item = catalog.items.get(item_id)
        if item is None:
            continue
        if item.is_consumable:
            assert item.repurchase_days is not None
            if (now - bought_at).days < item.repurchase_days:
                out.add(item_id)
            continue
        out.add(item_id)
        out |= catalog.substitutes.get(item_id, frozenset())
        if item.kind == "product":
            owned_subcategories.add((item.category, item.subcategory))
    return _Exclusions(frozenset(out), frozenset(owned_subcategories))


def _personalized(
    req: FeedRequest,
    sid: str,
    purposes: tuple[str, ...],
    catalog: Catalog,
    w: FeedWeights,
    signals: SignalSnapshot,
) -> list[Ranked]:
    now, half = req.now, w.recency_half_life_days
    excluded = _exclusions(catalog, signals, now)
    seen = _decay((now - signals.last_seen).days, half) if signals.last_seen else 1.0
    top_affinity = max(
        (v for c, v in signals.category_affinity.items() if v > 0 and c not in catalog.sensitive_categories),
        default=1.0,
    )
    affinity = {
        c: w.affinity * v / top_affinity * seen
        for c, v in signals.category_affinity.items()
        if v > 0 and c not in catalog.sensitive_categories
    }
    # Best complement source per item: strength x recency of the purchase; sensitive sources never count.
    complement: dict[int, tuple[float, Item]] = {}
    due: set[int] = set()
    for source_id, bought_at in sorted(signals.purchased_items.items()):
        source = catalog.items.get(source_id)
        if source is None or source.sensitive:
            continue
        if source.is_consumable:
            due.add(source_id)  # purchased consumables still here after exclusions are due
        recency = _decay((now - bought_at).days, half)
        for target, strength in catalog.complements.get(source_id, ()):
            value = w.complement * min(strength, 1.0) * recency
            if value > complement.get(target, (0.0, source))[0]:
                complement[target] = (value, source)

    def score(item: Item) -> float:
        return (
            (w.repurchase if item.item_id in due else 0.0)
            + complement.get(item.item_id, (0.0, item))[0]
            + affinity.get(item.category, 0.0)
            + w.popularity * item.popularity / catalog.max_popularity
        )

    # Without a boost an item's score is affinity(category) + popularity, so only the first `limit`
    # eligible items of each category (by popularity) can reach the top: no full-catalog scan.
    boosted = [catalog.items[i] for i in (due | set(complement)) if i in catalog.items]
    candidates: dict[int, Item] = {}
    for item in boosted:
        candidates[item.item_id] = item
    categories = [req.category] if req.category is not None else list(catalog.popular_by_category)
    for category in categories:
        taken = 0
        for item in catalog.popular_by_category.get(category, ()):
            if taken >= req.limit:
                break
            if item not in excluded:
                candidates.setdefault(item.item_id, item)
                taken += 1
    eligible = [
        i
        for i in candidates.values()
        if not i.sensitive and i not in excluded and (req.category is None or i.category == req.category)
    ]
    top = sorted(((score(i), i) for i in eligible), key=lambda p: (-p[0], p[1].item_id))[: req.limit]
    return [
        Ranked(
            item,
            _record(
                req, sid, purposes, item, rank, total, _reasons(item, w, due, complement, affinity, catalog)
            ),
        )
        for rank, (total, item) in enumerate(top, start=1)
    ]


def _reasons(
    item: Item,
    w: FeedWeights,
    due: set[int],
    complement: dict[int, tuple[float, Item]],
    affinity: dict[str, float],
    catalog: Catalog,
) -> list[Reason]:
    reasons: list[Reason] = []
    if item.item_id in due:
        text = f"Time to restock {item.name}: it usually lasts about {item.repurchase_days} days"
        reasons.append(Reason(ReasonCode.REPURCHASE_DUE, text, w.repurchase, item.item_id, item.name))
    if item.item_id in complement:
        value, source = complement[item.item_id]
        text = f"Goes with the {source.name} you bought"
        reasons.append(Reason(ReasonCode.PURCHASED_RELATED, text, value, source.item_id, source.name))
    if item.category in affinity:
        text = f"Because of your activity in {item.category}"
        reasons.append(Reason(ReasonCode.VIEWED_CATEGORY, text, affinity[item.category]))
    popular = w.popularity * item.popularity / catalog.max_popularity
    if popular > 0:
        reasons.append(Reason(ReasonCode.POPULAR, "Popular right now", popular))
    return reasons


_CRITERIA = {
    ReasonCode.REPURCHASE_DUE: "You buy this regularly and it is about due",
    ReasonCode.PURCHASED_RELATED: "You bought something this goes with",
    ReasonCode.VIEWED_CATEGORY: "You often look at this kind of item",
    ReasonCode.POPULAR: "Many people choose it",
}


def _record(
    req: FeedRequest,
    sid: str,
    purposes: tuple[str, ...],
    item: Item,
    rank: int,
    total: float,
    raw: list[Reason],
) -> DecisionRecord:
    if not raw:  # no signal at all: say so rather than leave the why empty
        raw = [Reason(ReasonCode.POPULAR, "In our catalog, ordered around your activity here", 0.0)]
    scale = total if total > 0 else 1.0
    reasons = tuple(
        sorted(
            (
                Reason(r.code, r.text, round(r.weight / scale, 4), r.source_item_id, r.source_item_name)
                for r in raw
            ),
            key=lambda r: (-r.weight, r.code.value),
        )
    )
    codes = {r.code for r in reasons}
    categories = []
    if codes & {ReasonCode.PURCHASED_RELATED, ReasonCode.REPURCHASE_DUE}:
        categories.append(PURCHASES)
    if ReasonCode.VIEWED_CATEGORY in codes:
        categories.append(BROWSING)
    categories += [PURCHASES, CART]  # what was left out (owned, in the cart) is also your data
    sources = [SignalSource.YOUR_ACTIVITY_HERE]
    if ReasonCode.POPULAR in codes:
        sources.append(SignalSource.POPULARITY)
    return DecisionRecord(
        surface=req.surface.value,
        subject_kind="item",
        subject_id=str(item.item_id),
        mode=Mode.PERSONALIZED,
        summary=reasons[0].text,
        reasons=reasons,
        signal_sources=tuple(sources),
        data_categories=tuple(dict.fromkeys(categories)),
        purposes=purposes,
        consent_snapshot_id=sid,
        generated_at=req.now,
        rank=rank,
        rule=RANKER,
        matched_criteria=tuple(
            [_CRITERIA[r.code] for r in reasons if r.code in _CRITERIA]
            + ["Leaves out what is in your cart and what you already own"]
        ),
        controls=controls_for(purposes, personalized=True),
    )

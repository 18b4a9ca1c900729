"""The feed decision, pure: inputs in (consent snapshot, the rulebook, signals or stated interests,
the price tier, the catalog), ranked items out, each with the DecisionRecord its `why` is
rendered from.

`plan_feed` says which inputs may be read (the resolver loads exactly those from the user model);
`decide_feed` ranks. Personalized score = category affinity + complements of purchases +
consumables due again + matches of recent searches + popularity + fit with the price tier, with
recency decay; "show less like this" multiplies it down. The rulebook leaves out what the person
owns (and its substitutes and kind), what is in the cart, what they hid and anything sensitive;
`diversify` spreads the page over subcategories and purchases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from privacy.consent import ConsentSnapshot, Level
from privacy.purposes import CONTENT, OFFERS, PROFILING, Source
from privacy.vocabulary import DataCategory, PriceTier
from resolvers.explain.record import DecisionRecord, Mode, Reason, ReasonCode, RuleRef, SignalSource
from resolvers.feed.config import FeedConfig
from resolvers.feed.nonpersonal import controls_for, non_personalized, stated_interest_feed
from resolvers.model.catalog import Catalog, Item
from resolvers.model.propensity import Propensity, prediction_controls, prediction_text, propensity_rule
from resolvers.model.rulebook import Rulebook, diversify
from resolvers.model.signals import SignalSnapshot
from resolvers.model.surfaces import MARKETING_SURFACES, Surface
from resolvers.model.tags import TIER_CITED_AT, tier_fit

RANKER = RuleRef(kind="ranker", id="feed", version=2)


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
    if req.category is not None and req.category in catalog.sensitive_categories:
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


def decide_feed(
    req: FeedRequest,
    consent: ConsentSnapshot,
    plan: FeedPlan,
    catalog: Catalog,
    cfg: FeedConfig,
    rules: Rulebook,
    signals: SignalSnapshot | None = None,
    interests: tuple[str, ...] = (),
    tier: PriceTier | None = None,
    propensity: Propensity | None = None,
) -> list[Ranked]:
    """`tier`: the person's price tier when it may be used (a personalized tag), else None;
    `propensity`: the purchase prediction when profiling may compute it and it is not hidden."""
    sid = consent.snapshot_id
    if plan.source is Source.BEHAVIOURAL and signals is not None and not signals.is_cold:
        return _personalized(req, sid, plan.purposes, catalog, cfg, rules, signals, tier, propensity)
    if plan.source is Source.STATED and interests:
        chosen = stated_interest_feed(req, sid, plan.purposes, catalog, interests, rules)
        return [Ranked(i, r) for i, r in chosen]
    return [Ranked(i, r) for i, r in non_personalized(req, sid, catalog, rules)]


def _decay(days: float, half_life: float) -> float:
    return float(0.5 ** (max(days, 0.0) / half_life))


@dataclass(slots=True)  # not frozen: ~200 built per request, and a frozen __init__ costs 3x
class _Scored:
    score: float
    item: Item
    source: int | None  # the purchase a complement-led item comes from (diversity)


def _personalized(
    req: FeedRequest,
    sid: str,
    purposes: tuple[str, ...],
    catalog: Catalog,
    cfg: FeedConfig,
    rules: Rulebook,
    signals: SignalSnapshot,
    tier: PriceTier | None,
    propensity: Propensity | None = None,
) -> list[Ranked]:
    w = cfg.weights
    now, half = req.now, w.recency_half_life_days
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
    # Likely to buy soon (the model): the strongest category is where a purchase is nearest.
    ready = propensity is not None and propensity.likely and w.propensity > 0 and bool(affinity)
    ready_category = max(affinity, key=lambda c: (affinity[c], c)) if ready else None
    ready_value = w.propensity * propensity.probability if ready and propensity is not None else 0.0
    # Best complement source per item: strength x recency of the purchase.
    complement: dict[int, tuple[float, Item]] = {}
    due: set[int] = set()
    for source_id, bought_at in sorted(signals.purchased_items.items()):
        source = catalog.items.get(source_id)
        if source is None or source.sensitive:
            continue
        if source.is_consumable and rules.excludes(source, recommending=False) is None:
            due.add(source_id)  # a consumable the rulebook no longer holds back is due again
        recency = _decay((now - bought_at).days, half)
        for target, strength in catalog.complements.get(source_id, ()):
            value = w.complement * min(strength, 1.0) * recency
            if value > complement.get(target, (0.0, source))[0]:
                complement[target] = (value, source)
    # Best search match per item: share of the search's words x recency of the search.
    searched: dict[int, tuple[float, str]] = {}
    for search in signals.searches:
        recency = _decay((now - search.at).days, half)
        for item_id, share in catalog.matches(search.term).items():
            value = w.search * share * recency
            if value > searched.get(item_id, (0.0, ""))[0]:
                searched[item_id] = (value, search.term)

    def contributions(item: Item) -> list[tuple[ReasonCode, float]]:
        # The reasons that count (> 0) and their weights, always in this order: the one place
        # the ranking's signals are weighed. A list of pairs, not a dict: ~200 candidates a
        # request, and only the page's items need their reasons by code (`parts`).
        item_id = item.item_id
        found: list[tuple[ReasonCode, float]] = []
        if item_id in due and w.repurchase > 0:
            found.append((ReasonCode.REPURCHASE_DUE, w.repurchase))
        lead = complement.get(item_id)
        if lead is not None and lead[0] > 0:
            found.append((ReasonCode.PURCHASED_RELATED, lead[0]))
        match = searched.get(item_id)
        if match is not None and match[0] > 0:
            found.append((ReasonCode.SEARCHED, match[0]))
        viewed = affinity.get(item.category, 0.0)
        if viewed > 0:
            found.append((ReasonCode.VIEWED_CATEGORY, viewed))
        popular = w.popularity * item.popularity / catalog.max_popularity
        if popular > 0:
            found.append((ReasonCode.POPULAR, popular))
        if tier is not None:
            fit = w.price_fit * tier_fit(item, tier)
            if fit > 0:
                found.append((ReasonCode.PRICE_TIER, fit))
        if ready_value > 0 and item.category == ready_category:
            found.append((ReasonCode.MODEL_PREDICTION, ready_value))
        return found

    def parts(item: Item) -> dict[ReasonCode, float]:
        return dict(contributions(item))

    def total(item: Item) -> float:
        return sum(v for _, v in contributions(item))

    # Boosted items (due, complements, search matches) are always scored; the rest only as far
    # as they can reach the page: within one (category, subcategory, price level) group all
    # other signals are equal, so a group's first `limit` by popularity are its best `limit`.
    candidates: dict[int, Item] = {}
    cleared: set[int] = set()  # already checked against the rulebook
    for item_id in due | set(complement) | set(searched):
        if item_id in catalog.items:
            candidates[item_id] = catalog.items[item_id]
    for (category, _, _), items in catalog.popular_by_group.items():
        if req.category is not None and category != req.category:
            continue
        taken = 0
        for item in items:
            if taken >= req.limit:
                break
            if rules.excludes(item) is None:
                candidates.setdefault(item.item_id, item)
                cleared.add(item.item_id)
                taken += 1
    scored: list[_Scored] = []
    less_like_factor = cfg.weights.less_like_factor
    for item in candidates.values():
        if req.category is not None and item.category != req.category:
            continue
        if item.item_id not in cleared and rules.excludes(item) is not None:
            continue
        lead = complement.get(item.item_id)
        # a complement leads the item's reasons: its purchase is the item's source (diversity)
        origin = (
            lead[1].item_id
            if lead is not None and _leads(parts(item)) is ReasonCode.PURCHASED_RELATED
            else None
        )
        value = total(item)
        scored.append(_Scored(value * less_like_factor if rules.less_like(item) else value, item, origin))
    scored.sort(key=lambda s: (-s.score, s.item.item_id))
    page = diversify(
        scored,
        kind_of=lambda s: (s.item.category, s.item.subcategory),
        source_of=lambda s: s.source,
        max_per_kind=cfg.max_per_subcategory,
        max_per_source=cfg.max_per_purchase,
        max_run=cfg.max_purchase_run,
        limit=req.limit,
    )
    out = []
    for rank, s in enumerate(page, start=1):
        reasons = _reasons(s.item, parts(s.item), complement, searched, tier, w.price_fit, propensity)
        record = _record(req, sid, purposes, s.item, rank, reasons, rules.less_like(s.item), propensity)
        out.append(Ranked(s.item, record))
    return out


def _leads(found: dict[ReasonCode, float]) -> ReasonCode | None:
    return max(found, key=lambda c: (found[c], c.value)) if found else None


def _reasons(
    item: Item,
    found: dict[ReasonCode, float],
    complement: dict[int, tuple[float, Item]],
    searched: dict[int, tuple[float, str]],
    tier: PriceTier | None,
    price_weight: float,
    propensity: Propensity | None = None,
) -> list[Reason]:
    reasons: list[Reason] = []
    for code, value in found.items():
        if code is ReasonCode.REPURCHASE_DUE:
            text = f"Time to restock {item.name}: it usually lasts about {item.repurchase_days} days"
            reasons.append(Reason(code, text, value, item.item_id, item.name))
        elif code is ReasonCode.PURCHASED_RELATED:
            source = complement[item.item_id][1]
            text = f"Goes with the {source.name} you bought"
            reasons.append(Reason(code, text, value, source.item_id, source.name))
        elif code is ReasonCode.SEARCHED:
            reasons.append(Reason(code, f"Matches your search “{searched[item.item_id][1]}”", value))
        elif code is ReasonCode.VIEWED_CATEGORY:
            reasons.append(Reason(code, f"Because of your activity in {item.category}", value))
        elif code is ReasonCode.POPULAR:
            reasons.append(Reason(code, "Popular right now", value))
        elif code is ReasonCode.PRICE_TIER and tier is not None and value >= TIER_CITED_AT * price_weight:
            reasons.append(Reason(code, _TIER_TEXT[tier], value))
        elif code is ReasonCode.MODEL_PREDICTION and propensity is not None:
            reasons.append(Reason(code, prediction_text(propensity), value))
    return reasons


_TIER_TEXT = {
    PriceTier.BUDGET: "In the lower price range you usually buy in",
    PriceTier.MID: "In the middle price range you usually buy in",
    PriceTier.LUXURY: "In the higher price range you usually buy in",
}
_CRITERIA = {
    ReasonCode.REPURCHASE_DUE: "You buy this regularly and it is about due",
    ReasonCode.PURCHASED_RELATED: "You bought something this goes with",
    ReasonCode.SEARCHED: "You searched for something like it",
    ReasonCode.VIEWED_CATEGORY: "You often look at this kind of item",
    ReasonCode.POPULAR: "Many people choose it",
    ReasonCode.PRICE_TIER: "Its price fits the range you usually buy in",
    ReasonCode.MODEL_PREDICTION: "A prediction from your own activity that you are likely to buy soon",
}


def _record(
    req: FeedRequest,
    sid: str,
    purposes: tuple[str, ...],
    item: Item,
    rank: int,
    raw: list[Reason],
    less_like: bool,
    propensity: Propensity | None = None,
) -> DecisionRecord:
    if not raw:  # no signal at all: say so rather than leave the why empty
        raw = [Reason(ReasonCode.POPULAR, "In our catalog, ordered around your activity here", 0.0)]
    scale = sum(r.weight for r in raw) or 1.0
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
    categories: list[str] = []
    if codes & {ReasonCode.PURCHASED_RELATED, ReasonCode.REPURCHASE_DUE}:
        categories.append(DataCategory.PURCHASES)
    if ReasonCode.VIEWED_CATEGORY in codes:
        categories.append(DataCategory.BROWSING)
    if ReasonCode.SEARCHED in codes:
        categories.append(DataCategory.SEARCHES)
    if ReasonCode.PRICE_TIER in codes:
        categories.append(DataCategory.PRICE_TIER_TAG)
    predicted = ReasonCode.MODEL_PREDICTION in codes and propensity is not None
    if predicted:
        categories.append(DataCategory.PURCHASE_PROPENSITY)
    categories += [DataCategory.PURCHASES, DataCategory.CART]  # what was left out is your data too
    sources = [SignalSource.YOUR_ACTIVITY_HERE]
    if ReasonCode.POPULAR in codes:
        sources.append(SignalSource.POPULARITY)
    if predicted:
        sources.append(SignalSource.MODEL_PREDICTION)
    profiled = ReasonCode.PRICE_TIER in codes or predicted
    used = (*purposes, PROFILING) if profiled and PROFILING not in purposes else purposes
    criteria = [_CRITERIA[r.code] for r in reasons if r.code in _CRITERIA]
    criteria.append("Leaves out what is in your cart, what you already own and what you hid")
    if less_like:
        criteria.append("Shown less often: you asked for less like this")
    return DecisionRecord(
        surface=req.surface.value,
        subject_kind="item",
        subject_id=str(item.item_id),
        mode=Mode.PERSONALIZED,
        summary=reasons[0].text,
        reasons=reasons,
        signal_sources=tuple(sources),
        data_categories=tuple(dict.fromkeys(categories)),
        purposes=used,
        consent_snapshot_id=sid,
        generated_at=req.now,
        rank=rank,
        rule=propensity_rule(propensity) if predicted and propensity is not None else RANKER,
        matched_criteria=tuple(criteria),
        controls=controls_for(used, item=item) + (prediction_controls() if predicted else ()),
    )

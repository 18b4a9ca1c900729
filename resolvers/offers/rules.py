"""Offer targeting, pure: given the marketer's offers, the current segment versions, the user's
attribute values and consent snapshot, which offers qualify (in priority order), each with its
DecisionRecord. Frequency caps are applied afterwards, atomically in PostgreSQL (resolvers/offers.py).

Welcome offers use account data only; every other kind reads activity (BEHAVIOURAL) and segment
matches are inferences (DERIVED), so the snapshot's refusals (GPC, objection, minors, level,
missing consent) switch them off before any rule runs. Hidden segment inferences are skipped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from privacy.consent import ConsentSnapshot
from privacy.purposes import OFFERS, PROFILING, Source
from privacy.vocabulary import DataCategory, PriceTier
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    RuleRef,
    SignalSource,
)
from resolvers.model.attributes import ATTRIBUTES
from resolvers.model.catalog import Catalog
from resolvers.model.controls import Controls
from resolvers.model.facts import AccountFacts, attribute_values, price_tier_of
from resolvers.model.propensity import Propensity, prediction_controls, prediction_text
from resolvers.model.reference import ReferenceKind
from resolvers.model.rulebook import Rulebook
from resolvers.model.signals import SignalSnapshot
from resolvers.model.tags import TIER_CITED_AT, Tags, tier_fit
from resolvers.offers.config import OffersConfig
from resolvers.segments.rules import SegmentVersion, referenced_attributes, segment_match
from sql import load_queries

Q = load_queries()


@dataclass(frozen=True)
class Offer:
    offer_id: int
    name: str
    kind: str
    segment_id: int | None
    item_id: int | None
    discount_pct: int | None
    surface: str
    channel: str | None
    params: dict[str, Any] = field(default_factory=dict)
    cap_per_window: int | None = None
    cap_window_hours: int | None = None
    priority: int = 0


@dataclass(frozen=True)
class Qualified:
    offer: Offer
    record: DecisionRecord


def offer_of(row: asyncpg.Record) -> Offer:
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


async def _live(pool: asyncpg.Pool) -> dict[int, tuple[Offer, dict[str, Any]]]:
    """Live offers with their rows (for rendering), by id."""
    return {r["offer_id"]: (offer_of(r), dict(r)) for r in await pool.fetch(Q.active_offers)}


# The marketer's live offers: public configuration, cached per worker.
LIVE_OFFERS = ReferenceKind[dict[int, tuple[Offer, dict[str, Any]]]]("offers", _live)


def _euros(cents: int) -> str:
    return f"€{cents / 100:,.0f}"


def _kind_reason(
    offer: Offer,
    attrs: dict[str, Any],
    signals: SignalSnapshot | None,
    cfg: OffersConfig,
    spend_window_days: int,
    now: datetime,
) -> tuple[Reason, str, str] | None:
    """(reason, coarse criterion, data category) when the offer's own rule holds."""
    p = offer.params
    if offer.kind == "welcome":
        days = int(p.get("max_days", cfg.welcome_max_days))
        if attrs.get("days_since_signup", 10**6) <= days:
            return (
                Reason(ReasonCode.NEW_MEMBER, "A welcome gift for new members", 1.0),
                (f"Joined in the last {days} days"),
                DataCategory.ACCOUNT,
            )
        return None
    if offer.kind == "abandoned_cart":
        threshold = int(p.get("min_cart_value_cents", cfg.abandoned_cart_min_cents))
        idle = int(p.get("idle_minutes", cfg.abandoned_cart_idle_minutes))
        value = attrs.get("cart_value_cents")
        updated = signals.cart_updated_at if signals else None
        if (
            value is not None
            and value >= threshold
            and updated
            and (now - updated).total_seconds() >= idle * 60
        ):
            return (
                Reason(ReasonCode.CART_ABANDONED, "You left items in your cart", 1.0),
                (f"Cart worth at least {_euros(threshold)} left for a while"),
                DataCategory.CART,
            )
        return None
    if offer.kind == "re_engagement":
        days = int(p.get("days_inactive", cfg.re_engagement_days))
        if attrs.get("days_since_last_seen", -1) >= days:
            return (
                Reason(ReasonCode.INACTIVE, "We have missed you", 1.0),
                (f"Not here for {days} days or more"),
                DataCategory.SESSIONS,
            )
        return None
    if offer.kind == "spend_over":
        threshold = int(p.get("min_spend_cents", cfg.spend_over_cents))
        if attrs.get("spend_90d_cents", -1) >= threshold:
            return (
                Reason(ReasonCode.SPEND_THRESHOLD, "Thanks for shopping with us", 1.0),
                (f"Spent over {_euros(threshold)} in the last {spend_window_days} days"),
                DataCategory.PURCHASES,
            )
        return None
    return None  # kind "segment": the segment alone decides


def decide_offers(
    offers: list[Offer],
    segments: dict[int, SegmentVersion],
    attrs: dict[str, Any],
    signals: SignalSnapshot | None,
    rules: Rulebook,
    consent: ConsentSnapshot,
    surface: str,
    cfg: OffersConfig,
    now: datetime,
    spend_window_days: int = 90,
    tier: PriceTier | None = None,
    propensity: Propensity | None = None,
) -> list[Qualified]:
    """`tier`: the person's price tier when it may be used (a personalized tag), else None;
    `propensity`: the purchase prediction when profiling may compute it and it is not hidden.
    When it says "likely to buy soon", offers on an item of the person's strongest category come
    before the others of the same priority (after "less like this")."""
    if not consent.allows(OFFERS, Source.ACCOUNT):
        return []
    behavioural = consent.allows(OFFERS, Source.BEHAVIOURAL)
    derived = consent.allows(OFFERS, Source.DERIVED)
    hidden = rules.controls.hidden_inferences
    ready_category: str | None = None
    if propensity is not None and propensity.likely and signals is not None and signals.category_affinity:
        affinity = signals.category_affinity
        ready_category = max(affinity, key=lambda c: (affinity[c], c))
    out: list[tuple[tuple[int, bool, float, float, int], Qualified]] = []
    for offer in offers:
        if offer.surface != surface or rules.excludes_offer(offer.offer_id, offer.item_id) is not None:
            continue
        needs_activity = offer.kind != "welcome"
        if (needs_activity and not behavioural) or (offer.segment_id is not None and not derived):
            continue
        reasons: list[Reason] = []
        criteria: list[str] = []
        categories: list[str] = []
        purposes = [OFFERS]
        rule: RuleRef | None = None
        if offer.kind != "segment":
            hit = _kind_reason(offer, attrs, signals, cfg, spend_window_days, now)
            if hit is None:
                continue
            reasons.append(hit[0])
            criteria.append(hit[1])
            categories.append(hit[2])
        if offer.segment_id is not None:
            seg = segments.get(offer.segment_id)
            if seg is None:
                continue
            matched, _ = segment_match(seg, attrs, hidden, consent)
            if not matched:
                continue
            # Cite only attributes that were available (consented); absent ones only failed conditions.
            used = [ATTRIBUTES[a] for a in dict.fromkeys(referenced_attributes(seg.rule)) if a in attrs]
            reasons.append(Reason(ReasonCode.SEGMENT_MATCH, f"You are in the audience '{seg.name}'", 1.0))
            criteria += [f"Matches a rule on {a.description or a.name}" for a in used]
            categories += [a.data_category for a in used]
            purposes += [a.purpose for a in used]
            rule = RuleRef("segment", str(seg.segment_id), seg.version)
        elif offer.kind == "segment":
            continue
        item = rules.catalog.items.get(offer.item_id) if offer.item_id is not None else None
        fit = tier_fit(item, tier) if item is not None and tier is not None else 0.0
        if fit >= TIER_CITED_AT:
            assert tier is not None
            reasons.append(Reason(ReasonCode.PRICE_TIER, "Its price fits the range you usually buy in", 1.0))
            criteria.append(f"Price tier: {tier.value.lower()}")
            categories.append(DataCategory.PRICE_TIER_TAG)
            purposes.append(PROFILING)
        lift = 0.0
        if propensity is not None and item is not None and item.category == ready_category:
            lift = propensity.probability
            reasons.append(Reason(ReasonCode.MODEL_PREDICTION, prediction_text(propensity), 1.0))
            criteria.append(f"Model version {propensity.model_version}: likely to buy soon")
            categories.append(DataCategory.PURCHASE_PROPENSITY)
            purposes.append(PROFILING)
        less = item is not None and rules.less_like(item)
        if less:
            criteria.append("Shown after others: you asked for less like this")
        weight = round(1.0 / len(reasons), 4)
        reasons = [Reason(r.code, r.text, weight) for r in reasons]
        purposes_t = tuple(dict.fromkeys(purposes))
        record = _record(
            offer,
            surface,
            consent,
            now,
            reasons,
            criteria,
            categories,
            purposes_t,
            rule,
            propensity if lift else None,
        )
        out.append(((-offer.priority, less, -lift, -fit, offer.offer_id), Qualified(offer, record)))
    return [q for _, q in sorted(out, key=lambda p: p[0])]


@dataclass(frozen=True)
class Person:
    """What offer targeting sees of one person, as read under their own consent snapshot: the
    account facts, the activity read under marketing.offers and under personalize.profiling
    (None where not allowed), the tags and purchase prediction decided from it, their controls."""

    consent: ConsentSnapshot
    facts: AccountFacts
    offer_signals: SignalSnapshot | None
    profiling_signals: SignalSnapshot | None
    tags: Tags
    propensity: Propensity | None
    controls: Controls


def qualify_offers(
    offers: Iterable[Offer],
    segments: dict[int, SegmentVersion],
    person: Person,
    catalog: Catalog,
    surface: str,
    cfg: OffersConfig,
    now: datetime,
    spend_window_days: int = 90,
) -> list[Qualified]:
    """The offers on `surface` that qualify for `person`, in serving order, before experiments
    and frequency caps: the one rule behind `viewer { offers }` and the channel-offer job
    (jobs/channel_offers.py), from the attribute values, price tier and rulebook of the person."""
    on_surface = [o for o in offers if o.surface == surface]
    if not on_surface or not person.consent.allows(OFFERS, Source.ACCOUNT):
        return []
    attrs = attribute_values(
        person.facts, person.offer_signals, person.tags, person.consent, catalog, now, spend_window_days,
        person.propensity,
    )  # fmt: skip
    tier = price_tier_of(person.consent, person.tags, person.profiling_signals)
    rules = Rulebook.build(catalog, person.offer_signals, person.controls, now)
    return decide_offers(
        on_surface, segments, attrs, person.offer_signals, rules, person.consent, surface, cfg, now,
        spend_window_days, tier, person.propensity,
    )  # fmt: skip


def _record(
    offer: Offer,
    surface: str,
    consent: ConsentSnapshot,
    now: datetime,
    reasons: list[Reason],
    criteria: list[str],
    categories: list[str],
    purposes: tuple[str, ...],
    rule: RuleRef | None,
    propensity: Propensity | None = None,
) -> DecisionRecord:
    sources = [SignalSource.MARKETER_RULE]
    if offer.kind != "welcome" or offer.segment_id is not None:
        sources.append(SignalSource.YOUR_ACTIVITY_HERE)
    if propensity is not None:
        sources.append(SignalSource.MODEL_PREDICTION)
    return DecisionRecord(
        surface=surface,
        subject_kind="offer",
        subject_id=str(offer.offer_id),
        mode=Mode.PERSONALIZED,
        summary=reasons[0].text,
        reasons=tuple(reasons),
        signal_sources=tuple(sources),
        data_categories=tuple(dict.fromkeys(categories)),
        purposes=purposes,
        consent_snapshot_id=consent.snapshot_id,
        generated_at=now,
        rule=rule or RuleRef("offer", str(offer.offer_id), 1),
        matched_criteria=tuple(criteria),
        controls=(
            Control(ControlKind.HIDE, "Hide this offer", target=f"offer:{offer.offer_id}"),
            Control(ControlKind.CHANGE_PERSONALIZATION_LEVEL, "Change your personalization level"),
            *(Control(ControlKind.OPEN_CONSENT, f"Review your consent for {p}", p) for p in purposes),
            *(prediction_controls() if propensity is not None else ()),
        ),
    )

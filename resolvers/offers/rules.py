"""Offer targeting, pure: given the marketer's offers, the current segment versions, the user's
attribute values and consent snapshot, which offers qualify (in priority order), each with its
DecisionRecord. Frequency caps are applied afterwards, atomically in PostgreSQL (resolvers/offers.py).

Welcome offers use account data only; every other kind reads activity (BEHAVIOURAL) and segment
matches are inferences (DERIVED), so the snapshot's refusals (GPC, objection, minors, level,
missing consent) switch them off before any rule runs. Hidden segment inferences are skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from privacy.consent import ConsentSnapshot
from privacy.purposes import OFFERS, Source
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
from resolvers.model.personalization_config import PersonalizationConfig
from resolvers.model.signals import SignalSnapshot
from resolvers.segments.attributes import ATTRIBUTES
from resolvers.segments.rules import ConditionResult, evaluate, referenced_attributes


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
class SegmentVersion:
    segment_id: int
    name: str
    version: int
    rule: dict[str, Any]


@dataclass(frozen=True)
class Qualified:
    offer: Offer
    record: DecisionRecord


def segment_match(
    seg: SegmentVersion, attrs: dict[str, Any], hidden: frozenset[str], consent: ConsentSnapshot
) -> tuple[bool, list[ConditionResult]]:
    """The one evaluator behind offers and simulateSegment. Segment membership is an inference:
    without consent for it nothing is known (every condition fails); a hidden segment never matches."""
    if not consent.allows(OFFERS, Source.DERIVED):
        attrs = {}
    passed, conditions = evaluate(seg.rule, attrs)
    # A rule over data we may not use never matches (not even through `not`), so consent can only
    # ever remove a user from an audience, never add them to one.
    complete = all(a in attrs for a in referenced_attributes(seg.rule))
    return passed and complete and f"segment:{seg.segment_id}" not in hidden, conditions


def _euros(cents: int) -> str:
    return f"€{cents / 100:,.0f}"


def _kind_reason(
    offer: Offer,
    attrs: dict[str, Any],
    signals: SignalSnapshot | None,
    cfg: PersonalizationConfig,
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
                "user.account",
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
                "user.behavior.cart",
            )
        return None
    if offer.kind == "re_engagement":
        days = int(p.get("days_inactive", cfg.re_engagement_days))
        if attrs.get("days_since_last_seen", -1) >= days:
            return (
                Reason(ReasonCode.INACTIVE, "We have missed you", 1.0),
                (f"Not here for {days} days or more"),
                "user.behavior.sessions",
            )
        return None
    if offer.kind == "spend_over":
        threshold = int(p.get("min_spend_cents", cfg.spend_over_cents))
        if attrs.get("spend_90d_cents", -1) >= threshold:
            return (
                Reason(ReasonCode.SPEND_THRESHOLD, "Thanks for shopping with us", 1.0),
                (f"Spent over {_euros(threshold)} in the last {cfg.spend_window_days} days"),
                "user.behavior.purchase_history",
            )
        return None
    return None  # kind "segment": the segment alone decides


def decide_offers(
    offers: list[Offer],
    segments: dict[int, SegmentVersion],
    attrs: dict[str, Any],
    signals: SignalSnapshot | None,
    hidden: frozenset[str],
    consent: ConsentSnapshot,
    surface: str,
    cfg: PersonalizationConfig,
    now: datetime,
) -> list[Qualified]:
    if not consent.allows(OFFERS, Source.ACCOUNT):
        return []
    behavioural = consent.allows(OFFERS, Source.BEHAVIOURAL)
    derived = consent.allows(OFFERS, Source.DERIVED)
    out: list[Qualified] = []
    for offer in sorted(offers, key=lambda o: (-o.priority, o.offer_id)):
        if offer.surface != surface:
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
            hit = _kind_reason(offer, attrs, signals, cfg, now)
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
        weight = round(1.0 / len(reasons), 4)
        reasons = [Reason(r.code, r.text, weight) for r in reasons]
        purposes_t = tuple(dict.fromkeys(purposes))
        out.append(
            Qualified(
                offer, _record(offer, surface, consent, now, reasons, criteria, categories, purposes_t, rule)
            )
        )
    return out


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
) -> DecisionRecord:
    sources = [SignalSource.MARKETER_RULE]
    if offer.kind != "welcome" or offer.segment_id is not None:
        sources.append(SignalSource.YOUR_ACTIVITY_HERE)
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
            Control(ControlKind.HIDE, "Hide this offer"),
            Control(ControlKind.CHANGE_PERSONALIZATION_LEVEL, "Change your personalization level"),
            *(Control(ControlKind.OPEN_CONSENT, f"Review your consent for {p}", p) for p in purposes),
        ),
    )

"""The attribute values segment rules and offers see for one user: computed purely from the
account row, the signal snapshot, the tags and the consent snapshot. An attribute whose purpose
the snapshot does not allow for its kind of data is simply absent (its conditions are false)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from privacy.consent import ConsentSnapshot
from privacy.guard import ConsentRequired, Guard
from privacy.purposes import ESSENTIAL, OFFERS, Source
from resolvers.config import TagThresholds
from resolvers.model import tags as tag_rules
from resolvers.model.catalog import Catalog
from resolvers.model.signals import SignalSnapshot, load_signals
from resolvers.segments.attributes import ATTRIBUTES
from sql import load_queries

Q = load_queries()


@dataclass(frozen=True)
class UserFacts:
    user_id: int
    created_at: datetime
    country: str | None
    platform: str | None
    signals: SignalSnapshot | None  # None when the snapshot did not allow reading them
    hidden: frozenset[str]


def decide_user_tags(
    facts: UserFacts, consent: ConsentSnapshot, t: TagThresholds, now: datetime
) -> tag_rules.Tags:
    tag_signals = None
    if facts.signals is not None:
        first = facts.signals.first_seen
        tag_signals = tag_rules.SignalSnapshot(
            member_since=min(facts.created_at, first) if first else facts.created_at,
            sessions=facts.signals.sessions,
            feature_counts=facts.signals.feature_counts,
            price_level_counts=tuple(facts.signals.price_level_counts[:4]),  # type: ignore[arg-type]
        )
    return tag_rules.decide_tags(tag_signals, consent, facts.hidden, t, now)


def attribute_values(
    facts: UserFacts,
    consent: ConsentSnapshot,
    catalog: Catalog,
    t: TagThresholds,
    now: datetime,
    spend_window_days: int = 90,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "days_since_signup": max(0, (now - facts.created_at).days),
        "country": facts.country,
        "platform": facts.platform,
    }
    s = facts.signals
    if s is not None:
        values.update(
            sessions=s.sessions,
            days_since_last_seen=s.days_since_last_seen(now),
            spend_90d_cents=s.spend_since(now, spend_window_days),
            purchases=len(s.purchased_items),
            cart_value_cents=s.cart_value_cents,
            purchased_category=frozenset(
                catalog.items[i].category
                for i in s.purchased_items
                if i in catalog.items and not catalog.items[i].sensitive
            ),
        )
    tags = decide_user_tags(facts, consent, t, now)
    if tags.experience_record.mode.value == "PERSONALIZED":
        values["experience"] = tags.experience.value
    if tags.price_tier_record.mode.value == "PERSONALIZED":
        values["price_tier"] = tags.price_tier.value
    return {
        name: v
        for name, v in values.items()
        if v is not None and consent.allows(ATTRIBUTES[name].purpose, ATTRIBUTES[name].source)
    }


async def load_user_facts(guard: Guard, user_id: int, purpose: str = OFFERS) -> UserFacts | None:
    """Account, hidden inferences and (when allowed for `purpose`) the signal snapshot."""
    account = await guard.fetchrow(
        Q.offer_user_account,
        user_id,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("users", "hidden_inferences"),
        subject_user_id=user_id,
    )
    if account is None:
        return None
    try:
        signals: SignalSnapshot | None = await load_signals(guard, user_id, purpose)
    except ConsentRequired:
        signals = None
    return UserFacts(
        user_id=user_id,
        created_at=account["created_at"],
        country=account["country"],
        platform=account["platform"],
        signals=signals,
        hidden=frozenset(account["hidden"]),
    )

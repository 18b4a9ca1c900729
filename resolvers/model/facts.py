"""The attribute values segment rules and offers see for one user, computed purely from the
account, the signals, the tags and the consent snapshot. An attribute whose purpose the snapshot
does not allow for its kind of data is simply absent (its conditions are false). Sensitive items
are already absent from the signals (left out when the rollups were computed), so no attribute
can carry them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from privacy.consent import ConsentSnapshot
from privacy.purposes import OFFERS, PROFILING, Source
from privacy.vocabulary import PriceTier
from resolvers.explain.record import Mode
from resolvers.model.attributes import ATTRIBUTES
from resolvers.model.catalog import Catalog
from resolvers.model.config import TagThresholds
from resolvers.model.propensity import Propensity
from resolvers.model.signals import SignalSnapshot
from resolvers.model.tags import Tags, decide_tags


@dataclass(frozen=True)
class AccountFacts:
    """What targeting may use of the account itself (account data)."""

    created_at: datetime
    country: str | None
    platform: str | None


def user_tags(
    signals: SignalSnapshot | None,
    consent: ConsentSnapshot,
    hidden: frozenset[str],
    thresholds: TagThresholds,
    now: datetime,
    created_at: datetime | None = None,
) -> Tags:
    """The tags, from signals read under personalize.profiling (None when not allowed)."""
    if signals is not None and signals.member_since is None and created_at is not None:
        first = signals.first_seen
        signals = replace(signals, member_since=min(created_at, first) if first else created_at)
    return decide_tags(signals, consent, hidden, thresholds, now)


def attribute_values(
    account: AccountFacts,
    signals: SignalSnapshot | None,
    tags: Tags | None,
    consent: ConsentSnapshot,
    catalog: Catalog,
    now: datetime,
    spend_window_days: int = 90,
    propensity: Propensity | None = None,
) -> dict[str, Any]:
    """`signals` were read under marketing.offers (None when not allowed); `tags` were decided
    under personalize.profiling."""
    values: dict[str, Any] = {
        "days_since_signup": max(0, (now - account.created_at).days),
        "country": account.country,
        "platform": account.platform,
    }
    if signals is not None:
        values.update(
            sessions=signals.sessions,
            days_since_last_seen=signals.days_since_last_seen(now),
            spend_90d_cents=signals.spend_since(now, spend_window_days),
            purchases=len(signals.purchased_items),
            cart_value_cents=signals.cart_value_cents,
            purchased_category=frozenset(
                catalog.items[i].category
                for i in signals.purchased_items
                if i in catalog.items and not catalog.items[i].sensitive
            ),
        )
    if tags is not None:
        if tags.experience_record.mode is Mode.PERSONALIZED:
            values["experience"] = tags.experience.value
        if tags.price_tier_record.mode is Mode.PERSONALIZED:
            values["price_tier"] = tags.price_tier.value
    if propensity is not None:  # decided under personalize.profiling, None when not allowed or hidden
        values["likely_to_buy_soon"] = "yes" if propensity.likely else "no"
    return {
        name: v
        for name, v in values.items()
        if v is not None and consent.allows(ATTRIBUTES[name].purpose, ATTRIBUTES[name].source)
    }


# The purposes targeting reads data under: signals for offers, tags for profiling.
SIGNALS_PURPOSE = OFFERS
TAGS_PURPOSE = PROFILING
TAGS_SOURCE = Source.DERIVED


def price_tier_of(
    consent: ConsentSnapshot, tags: Tags, profiling_signals: SignalSnapshot | None
) -> PriceTier | None:
    """The price tier as a ranking signal: only when profiling may use it, it is not hidden, and it
    comes from something bought (the default tier of a person who bought nothing says nothing).
    `profiling_signals`: the activity read under personalize.profiling (None when not allowed)."""
    if not consent.allows(PROFILING, Source.DERIVED):
        return None
    if tags.price_tier_record.mode is not Mode.PERSONALIZED or profiling_signals is None:
        return None
    return tags.price_tier if profiling_signals.mean_price_level is not None else None

"""Purposes: stable keys (named after the Fides data-use taxonomy), each with a plain-language
notice and a version. A purpose's notice version is part of every consent receipt."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from privacy.retention import DataKind, RetentionPolicy


class Source(StrEnum):
    """What kind of personal data a read touches; personalization levels gate on it."""

    ACCOUNT = "account"  # the account itself: level, channels, minor flag, consent
    STATED = "stated"  # what the user told us: profile fields, chosen interests
    BEHAVIOURAL = "behavioural"  # activity history: events, rollups, affinities
    DERIVED = "derived"  # inferences: tags, segments, predictions


@dataclass(frozen=True, slots=True)
class Purpose:
    key: str
    title: str
    uses: str
    why: str
    benefit: str
    version: int
    marketing: bool = False
    required: bool = False
    # The broadest kind of data the purpose reads; the effective state shown to the user is
    # evaluated against it (BASIC allows personalize.content on stated data, not on activity).
    source: Source = Source.STATED
    # fideslang data categories the purpose may use, for notices and the export.
    data_categories: tuple[str, ...] = ()
    # The kinds of records the purpose makes us keep; the notice says for how long.
    keeps: tuple[DataKind, ...] = ()

    @property
    def notice_text(self) -> str:
        """The plain-language notice in one sentence: what is used, why, what you get."""
        return f"We use {self.uses} {self.why}. You get {self.benefit}."

    def retention_text(self, policy: RetentionPolicy) -> str:
        """How long the records this purpose creates are kept, under `policy`."""
        return policy.sentence(self.keeps)


PURPOSES: dict[str, Purpose] = {
    p.key: p
    for p in (
        Purpose(
            "essential.service",
            "Run the service you asked for",
            "your account, orders, bookings and cart",
            "to take orders, make bookings and keep your account working",
            "the service itself works",
            1,
            required=True,
            source=Source.ACCOUNT,
            data_categories=("user.account", "user.contact", "user.financial"),
            keeps=(DataKind.AUDIT,),
        ),
        Purpose(
            "personalize.content",
            "Order content by your activity here",
            "the items you viewed, clicked, added to your cart and bought here",
            "to put things you are likely to want first",
            "a feed that starts with what is relevant to you",
            1,
            source=Source.BEHAVIOURAL,
            data_categories=(
                "user.behavior.browsing_history",
                "user.behavior.purchase_history",
                "user.preference",
            ),
            keeps=(DataKind.EVENTS, DataKind.DECISIONS),
        ),
        Purpose(
            "personalize.profiling",
            "Derive tags and segments about you",
            "your activity here, summarised into tags (for example 'power user' or a price tier)",
            "to adapt the layout and the number of offers to how you use the app",
            "a layout that fits how you shop",
            1,
            source=Source.DERIVED,
            data_categories=("user.behavior", "user.derived.inferred"),
            keeps=(DataKind.EVENTS, DataKind.DECISIONS),
        ),
        Purpose(
            "marketing.offers",
            "Show you targeted offers",
            "your tags, segments, cart and purchase history",
            "to choose which offers to show you",
            "discounts on things you are likely to want",
            1,
            marketing=True,
            source=Source.DERIVED,
            data_categories=("user.derived.inferred", "user.behavior.purchase_history"),
            keeps=(DataKind.IMPRESSIONS, DataKind.DECISIONS),
        ),
        Purpose(
            "marketing.communications.email",
            "Send you offers and reminders by email",
            "your email address and the offers chosen for you",
            "to send reminders and offers by email",
            "reminders when something you buy regularly is due",
            1,
            marketing=True,
            data_categories=("user.contact.email",),
            keeps=(DataKind.MESSAGES, DataKind.DECISIONS),
        ),
        Purpose(
            "marketing.communications.sms",
            "Send you offers and reminders by SMS",
            "your phone number and the offers chosen for you",
            "to send reminders and offers by SMS",
            "reminders when something you buy regularly is due",
            1,
            marketing=True,
            data_categories=("user.contact.phone_number",),
            keeps=(DataKind.MESSAGES, DataKind.DECISIONS),
        ),
        Purpose(
            "marketing.communications.push",
            "Send you offers and reminders as push notifications",
            "your device's push token and the offers chosen for you",
            "to send reminders and offers as notifications",
            "reminders when something you buy regularly is due",
            1,
            marketing=True,
            data_categories=("user.device",),
            keeps=(DataKind.MESSAGES, DataKind.DECISIONS),
        ),
        Purpose(
            "analytics.aggregate",
            "Count you in anonymous statistics",
            "your activity, only ever inside differentially private totals",
            "so the company can learn about audiences, never about you",
            "a better product, without anyone learning about you individually",
            1,
            source=Source.BEHAVIOURAL,
            data_categories=("user.behavior",),
            keeps=(DataKind.EVENTS,),
        ),
    )
}

MARKETING_PURPOSES = frozenset(k for k, p in PURPOSES.items() if p.marketing)
ESSENTIAL = "essential.service"
CONTENT = "personalize.content"
PROFILING = "personalize.profiling"
OFFERS = "marketing.offers"
ANALYTICS = "analytics.aggregate"
assert {ESSENTIAL, CONTENT, PROFILING, OFFERS, ANALYTICS} <= PURPOSES.keys()


def channel_purpose(channel: str) -> str | None:
    """The communications purpose for a channel; in-app messages ride on marketing.offers."""
    if channel == "in_app":
        return "marketing.offers"
    key = f"marketing.communications.{channel}"
    return key if key in PURPOSES else None

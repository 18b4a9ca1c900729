"""The vocabulary's enums (privacy/vocabulary.py, privacy/consent.py, privacy/profile_fields.py)
registered in the GraphQL schema: the schema publishes the very classes the rules and the SQL
domains use, so there is one enum per concept."""

from __future__ import annotations

from enum import Enum

import strawberry

from privacy.consent import Level
from privacy.profile_fields import Stage
from privacy.vocabulary import Channel, EventType, Experience, Platform, PriceTier


def describe_values(enum: type[Enum], texts: dict[str, str]) -> None:
    """Give each value of a registered enum its description. The vocabulary's enums are plain
    StrEnums (the rules and SQL domains use them without Strawberry), so the texts are attached
    to Strawberry's definition here; a missing or unknown member fails at import."""
    definition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    names = {v.name for v in definition.values}
    if names != set(texts):
        raise ValueError(f"{enum.__name__}: describe exactly {sorted(names)}")
    for value in definition.values:
        value.description = texts[value.name]


strawberry.enum(Platform, description="The client platform of a user or an event.")
strawberry.enum(Channel, description="A channel the product can reach the user on.")
strawberry.enum(Experience, description="How experienced the user is with the app (the experience tag).")
strawberry.enum(
    PriceTier, description="The price range the user usually buys or books in (the price tier tag)."
)
strawberry.enum(
    EventType,
    description=(
        "What happened. `value` means: dwell ms, purchase cents, cart quantity, party size. "
        "offer_click and offer_redemption name the offer (`offerId`) and are kept only under "
        "analytics.aggregate (they measure offers and experiments)."
    ),
)
strawberry.enum(
    Level,
    name="PersonalizationLevel",
    description=(
        "How much personalization the user chose: NONE (as anonymous), BASIC (context and what "
        "they stated), FULL (activity history and profiling, for consented purposes)."
    ),
)
strawberry.enum(
    Stage, name="ProfileStage", description="A step of the product at which profile fields are asked."
)

describe_values(Platform, {"WEB": "A web browser.", "IOS": "The iOS app.", "ANDROID": "The Android app."})
describe_values(
    Channel,
    {
        "EMAIL": "Email; messages need consent to marketing.communications.email.",
        "SMS": "Text messages; need consent to marketing.communications.sms.",
        "PUSH": "Push notifications of the mobile app; need consent to marketing.communications.push.",
        "IN_APP": "Messages inside the app; need consent to marketing.offers.",
    },
)
describe_values(
    Experience,
    {
        "NEWBIE": "New here: few sessions so far or a recent account; the layout is kept simple.",
        "REGULAR": "Uses the app regularly (also the default when no activity may be used).",
        "POWER": "Many sessions, many different features used and a long tenure.",
    },
)
describe_values(
    PriceTier,
    {
        "BUDGET": "Buys or books mostly in the lower price levels.",
        "MID": (
            "Buys or books mostly in the middle price levels (also the default, and when "
            "nothing was bought yet)."
        ),
        "LUXURY": "Buys or books mostly in the higher price levels.",
    },
)
describe_values(
    EventType,
    {
        "VIEW": "An item was viewed; `itemId` required.",
        "CLICK": "An item was clicked; `itemId` required.",
        "DWELL": "Time spent on an item; `itemId` required, `value` is the duration in ms (required).",
        "SEARCH": "A search; `query` required, no item.",
        "ADD_TO_CART": (
            "A product was added to the cart; `itemId` of a product, `value` the quantity (default 1)."
        ),
        "REMOVE_FROM_CART": (
            "A product was removed from the cart; `itemId` of a product, `value` the quantity (default 1)."
        ),
        "PURCHASE": (
            "A product was bought; `itemId` of a product, `value` the amount in cents (default: its price)."
        ),
        "BOOKING": "A restaurant was booked; `itemId` of a restaurant, `value` the party size.",
        "SESSION_START": "A session started; no item, no value.",
        "FEATURE_USED": "An app feature was used; `feature` required (e.g. wishlist), no item.",
        "OFFER_CLICK": (
            "An offer was clicked; `offerId` of a live offer required, no item; kept only under "
            "analytics.aggregate."
        ),
        "OFFER_REDEMPTION": (
            "An offer was redeemed; `offerId` of a live offer required, no item; kept only under "
            "analytics.aggregate."
        ),
    },
)
describe_values(
    Level,
    {
        "NONE": "No personalization: answers are the same as for an anonymous visitor.",
        "BASIC": (
            "Personalization from the request's context and what you stated yourself "
            "(profile, interests); no activity history or inferences."
        ),
        "FULL": (
            "Personalization also from your activity history and inferred tags, for the "
            "purposes you consented to."
        ),
    },
)
describe_values(
    Stage,
    {
        "SIGNUP": "Creating the account (name, phone).",
        "CHECKOUT": "Buying (email, address).",
        "BOOKING": "Booking a table (phone, dietary preferences).",
        "PERSONALIZATION": "Setting up personalization (interests, age range).",
    },
)

__all__ = ["Channel", "EventType", "Experience", "Level", "Platform", "PriceTier", "Stage"]

"""The vocabulary's enums (privacy/vocabulary.py, privacy/consent.py, privacy/profile_fields.py)
registered in the GraphQL schema: the schema publishes the very classes the rules and the SQL
domains use, so there is one enum per concept."""

from __future__ import annotations

import strawberry

from privacy.consent import Level
from privacy.profile_fields import Stage
from privacy.vocabulary import Channel, EventType, Experience, Platform, PriceTier

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

__all__ = ["Channel", "EventType", "Experience", "Level", "Platform", "PriceTier", "Stage"]

"""The data vocabulary: one enum per concept, declared here once (the lowest layer that needs
it) and shared by the SQL checks (each has a `CREATE DOMAIN` of the same name, see migration
0070; tests/test_vocabulary.py proves the two agree), the Python rules and the GraphQL schema
(resolvers/common/enums.py registers these very classes).

Data categories follow the Fides (fideslang) taxonomy: one spelling per category, here."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """The client platform of a user or an event (SQL domain `platform`)."""

    WEB = "web"
    IOS = "ios"
    ANDROID = "android"


class Channel(StrEnum):
    """A channel the product can reach a person on (SQL domain `channel`)."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"


class Experience(StrEnum):
    """How experienced a user is with the app (the experience tag)."""

    NEWBIE = "NEWBIE"
    REGULAR = "REGULAR"
    POWER = "POWER"


class PriceTier(StrEnum):
    """The price range a user usually buys or books in (the price-tier tag)."""

    BUDGET = "BUDGET"
    MID = "MID"
    LUXURY = "LUXURY"


class EventType(StrEnum):
    """What happened, as tracked by `trackEvents` (SQL domain `event_type`)."""

    VIEW = "view"
    CLICK = "click"
    DWELL = "dwell"
    SEARCH = "search"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    PURCHASE = "purchase"
    BOOKING = "booking"
    SESSION_START = "session_start"
    FEATURE_USED = "feature_used"
    OFFER_CLICK = "offer_click"
    OFFER_REDEMPTION = "offer_redemption"


class DataCategory(StrEnum):
    """The fideslang data categories this product uses (notices, why, export, audit)."""

    ACCOUNT = "user.account"
    ACCOUNT_SETTINGS = "user.account.settings"
    NAME = "user.name"
    CONTACT = "user.contact"
    EMAIL = "user.contact.email"
    PHONE = "user.contact.phone_number"
    ADDRESS = "user.contact.address"
    FINANCIAL = "user.financial"
    DEVICE = "user.device"
    COUNTRY = "user.location.imprecise"
    PRECISE_LOCATION = "user.location.precise"
    AGE_RANGE = "user.demographic.age_range"
    BEHAVIOR = "user.behavior"
    BROWSING = "user.behavior.browsing_history"
    PURCHASES = "user.behavior.purchase_history"
    SEARCHES = "user.behavior.search_history"
    SESSIONS = "user.behavior.sessions"
    CART = "user.behavior.cart"
    INTERESTS = "user.preferences.interests"
    DIETARY = "user.preferences.dietary"
    INFERRED = "user.derived.inferred"
    EXPERIENCE_TAG = "user.derived.experience"
    PRICE_TIER_TAG = "user.derived.price_tier"
    PURCHASE_PROPENSITY = "user.derived.purchase_propensity"
    # Special categories: declared so that rules naming them can be refused with a clear reason.
    CHILDREN = "user.childrens"
    HEALTH = "user.health_and_medical"
    RELIGION = "user.demographic.religious_belief"
    ETHNICITY = "user.demographic.race_ethnicity"
    SEXUAL_ORIENTATION = "user.sexual_orientation"
    POLITICAL_OPINION = "user.political_opinion"


# Enums whose values a SQL domain checks: (domain name, enum). tests/test_vocabulary.py
# compares each domain's CHECK with the enum, so neither can change alone.
SQL_DOMAINS: tuple[tuple[str, type[StrEnum]], ...] = (
    ("platform", Platform),
    ("channel", Channel),
    ("event_type", EventType),
)

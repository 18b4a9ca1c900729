"""The declared attributes segment rules may use. Each declares its type, data category, the
purpose its use needs and the kind of data it is; a rule naming anything else is refused.

Sensitive attributes are declared too (flagged) so that a rule naming one is refused with a clear
reason rather than "unknown attribute"; they are never computed."""

from __future__ import annotations

from dataclasses import dataclass

from privacy.purposes import OFFERS, PROFILING, Source
from resolvers.model.catalog import SENSITIVE_CATEGORIES


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: str  # int | enum | str | str_set
    data_category: str
    purpose: str
    source: Source
    description: str
    sensitive: bool = False
    values: frozenset[str] = frozenset()  # allowed values of an enum


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute("sessions", "int", "user.behavior.sessions", OFFERS, Source.BEHAVIOURAL, "sessions so far"),
        Attribute(
            "days_since_last_seen",
            "int",
            "user.behavior.sessions",
            OFFERS,
            Source.BEHAVIOURAL,
            "days inactive",
        ),
        Attribute("days_since_signup", "int", "user.account", OFFERS, Source.ACCOUNT, "days since sign-up"),
        Attribute(
            "spend_90d_cents",
            "int",
            "user.behavior.purchase_history",
            OFFERS,
            Source.BEHAVIOURAL,
            "spend, 90 days",
        ),
        Attribute(
            "purchases", "int", "user.behavior.purchase_history", OFFERS, Source.BEHAVIOURAL, "purchases"
        ),
        Attribute(
            "cart_value_cents", "int", "user.behavior.cart", OFFERS, Source.BEHAVIOURAL, "current cart value"
        ),
        Attribute(
            "experience",
            "enum",
            "user.derived.experience",
            PROFILING,
            Source.DERIVED,
            "experience tag",
            values=frozenset({"NEWBIE", "REGULAR", "POWER"}),
        ),
        Attribute(
            "price_tier",
            "enum",
            "user.derived.price_tier",
            PROFILING,
            Source.DERIVED,
            "price tier tag",
            values=frozenset({"BUDGET", "MID", "LUXURY"}),
        ),
        Attribute("country", "str", "user.location.country", OFFERS, Source.ACCOUNT, "country (ISO code)"),
        Attribute(
            "platform",
            "enum",
            "user.device",
            OFFERS,
            Source.ACCOUNT,
            "platform",
            values=frozenset({"web", "ios", "android"}),
        ),
        Attribute(
            "purchased_category",
            "str_set",
            "user.behavior.purchase_history",
            OFFERS,
            Source.BEHAVIOURAL,
            "categories bought from (sensitive categories are never included)",
        ),
        # Declared only to be refused: special categories and proxies are never targeting inputs.
        Attribute(
            "precise_location", "str", "user.location.precise", OFFERS, Source.ACCOUNT, "", sensitive=True
        ),
        Attribute("is_minor", "enum", "user.childrens", OFFERS, Source.ACCOUNT, "", sensitive=True),
        Attribute(
            "health_condition", "str", "user.health_and_medical", OFFERS, Source.STATED, "", sensitive=True
        ),
        Attribute(
            "religion", "str", "user.demographic.religious_belief", OFFERS, Source.STATED, "", sensitive=True
        ),
        Attribute(
            "ethnicity", "str", "user.demographic.race_ethnicity", OFFERS, Source.STATED, "", sensitive=True
        ),
        Attribute(
            "sexual_orientation", "str", "user.sexual_orientation", OFFERS, Source.STATED, "", sensitive=True
        ),
        Attribute(
            "political_opinion", "str", "user.political_opinion", OFFERS, Source.STATED, "", sensitive=True
        ),
    )
}

# A value naming one of these (as a whole or part of the string) makes a rule sensitive.
SENSITIVE_TERMS = frozenset(
    {
        "health",
        "medical",
        "pregnan",
        "religio",
        "politic",
        "sexual",
        "orientation",
        "lgbt",
        "ethnic",
        "race",
        "precise_location",
        "minor",
        "child",
        "genetic",
        "biometric",
        "criminal",
        "trade_union",
    }
    | SENSITIVE_CATEGORIES
)


def names_sensitive(value: str, extra: frozenset[str] = frozenset()) -> bool:
    lowered = value.strip().lower()
    return lowered in extra or any(term in lowered for term in SENSITIVE_TERMS)

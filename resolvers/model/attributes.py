"""The declared attributes of a user that segment rules and offers may use. Each declares its
type, data category, the purpose its use needs and the kind of data it is; a rule naming anything
else is refused, and a value whose purpose the consent snapshot does not allow is never computed.

Sensitive attributes are declared too (flagged) so that a rule naming one is refused with a clear
reason rather than "unknown attribute"; they are never computed."""

from __future__ import annotations

from dataclasses import dataclass

from privacy.purposes import OFFERS, PROFILING, Source
from privacy.vocabulary import DataCategory as C
from privacy.vocabulary import Experience, Platform, PriceTier


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
        Attribute("sessions", "int", C.SESSIONS, OFFERS, Source.BEHAVIOURAL, "sessions so far"),
        Attribute(
            "days_since_last_seen",
            "int",
            C.SESSIONS,
            OFFERS,
            Source.BEHAVIOURAL,
            "days inactive",
        ),
        Attribute("days_since_signup", "int", C.ACCOUNT, OFFERS, Source.ACCOUNT, "days since sign-up"),
        Attribute(
            "spend_90d_cents",
            "int",
            C.PURCHASES,
            OFFERS,
            Source.BEHAVIOURAL,
            "spend, 90 days",
        ),
        Attribute("purchases", "int", C.PURCHASES, OFFERS, Source.BEHAVIOURAL, "purchases"),
        Attribute("cart_value_cents", "int", C.CART, OFFERS, Source.BEHAVIOURAL, "current cart value"),
        Attribute(
            "experience",
            "enum",
            C.EXPERIENCE_TAG,
            PROFILING,
            Source.DERIVED,
            "experience tag",
            values=frozenset(e.value for e in Experience),
        ),
        Attribute(
            "price_tier",
            "enum",
            C.PRICE_TIER_TAG,
            PROFILING,
            Source.DERIVED,
            "price tier tag",
            values=frozenset(t.value for t in PriceTier),
        ),
        Attribute(
            "likely_to_buy_soon",
            "enum",
            C.PURCHASE_PROPENSITY,
            PROFILING,
            Source.DERIVED,
            "likely to buy soon (purchase-propensity model)",
            values=frozenset({"yes", "no"}),
        ),
        Attribute("country", "str", C.COUNTRY, OFFERS, Source.ACCOUNT, "country (ISO code)"),
        Attribute(
            "platform",
            "enum",
            C.DEVICE,
            OFFERS,
            Source.ACCOUNT,
            "platform",
            values=frozenset(p.value for p in Platform),
        ),
        Attribute(
            "purchased_category",
            "str_set",
            C.PURCHASES,
            OFFERS,
            Source.BEHAVIOURAL,
            "categories bought from (sensitive categories are never included)",
        ),
        # Declared only to be refused: special categories and proxies are never targeting inputs.
        Attribute("precise_location", "str", C.PRECISE_LOCATION, OFFERS, Source.ACCOUNT, "", sensitive=True),
        Attribute("is_minor", "enum", C.CHILDREN, OFFERS, Source.ACCOUNT, "", sensitive=True),
        Attribute("health_condition", "str", C.HEALTH, OFFERS, Source.STATED, "", sensitive=True),
        Attribute("religion", "str", C.RELIGION, OFFERS, Source.STATED, "", sensitive=True),
        Attribute("ethnicity", "str", C.ETHNICITY, OFFERS, Source.STATED, "", sensitive=True),
        Attribute(
            "sexual_orientation", "str", C.SEXUAL_ORIENTATION, OFFERS, Source.STATED, "", sensitive=True
        ),
        Attribute("political_opinion", "str", C.POLITICAL_OPINION, OFFERS, Source.STATED, "", sensitive=True),
    )
}

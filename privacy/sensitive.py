"""Sensitive data: categories, topics and words that are never targeting inputs (DESIGN §4).

This is the one place the policy lives. The SQL side reads the same lists from two reference
tables (`sensitive_categories`, `sensitive_terms`, migration 0070) so that the rollups can leave
sensitive items and searches out when they are computed; tests/test_vocabulary.py proves the
tables hold exactly these values. Sensitive data stays in the person's own export, marked."""

from __future__ import annotations

# Catalog categories that reveal special-category data (GDPR Art. 9 and proxies), on top of any
# item whose `sensitive_topic` is set. Items in them never drive a reason, an affinity, a
# complement, a spend or cart value, a price tier or a segment attribute.
SENSITIVE_CATEGORIES = frozenset(
    {
        "health",
        "medication",
        "pharmacy",
        "pregnancy",
        "baby",
        "pregnancy_baby",
        "religion",
        "religious_goods",
        "politics",
        "sexual_orientation",
        "lgbtq",
        "sexual_health",
        "ethnicity",
    }
)

# Word stems that make a value (a segment rule value, a search term) sensitive when they occur
# anywhere in it, lower-cased.
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
    """Whether `value` names a sensitive category or topic (or one of `extra`)."""
    lowered = value.strip().lower()
    return lowered in extra or any(term in lowered for term in SENSITIVE_TERMS)


def is_sensitive_item(category: str, sensitive_topic: str | None) -> bool:
    """The catalog rule: an item is sensitive by its topic or by its category."""
    return sensitive_topic is not None or category in SENSITIVE_CATEGORIES

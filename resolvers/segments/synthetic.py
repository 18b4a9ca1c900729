"""Synthetic profiles: the person a marketer describes to try a segment rule on, never a real one.

A profile is a JSON object of declared attributes (resolvers/model/attributes.py) and values
shaped like the ones `attribute_values` computes for real people: whole numbers from 0 for
counts, days and cents, the declared values of an enum, a two-letter country code, and for
`purchased_category` a list of catalog categories that hold items a person may be targeted on.
An attribute left out is one the person's consent does not make available: every condition on
it fails, as for a real person. Every problem is reported with its field (`profile.sessions`)."""

from __future__ import annotations

import re
from typing import Any

from privacy.consent import ConsentSnapshot, Level
from privacy.purposes import PURPOSES
from privacy.sensitive import names_sensitive
from resolvers.common.errors import FieldError
from resolvers.model.attributes import ATTRIBUTES
from resolvers.model.catalog import Catalog

MAX_INT = 10**12
COUNTRY = re.compile(r"[A-Z]{2}")
MAX_NAME_IN_PATH = 40
# A synthetic person who consented to everything at level FULL, an adult: only the attributes
# the marketer leaves out are unavailable.
SYNTHETIC_CONSENT = ConsentSnapshot(user_id=0, granted=frozenset(PURPOSES), level=Level.FULL)


def targetable_categories(catalog: Catalog) -> frozenset[str]:
    """Categories a real `purchased_category` can hold: those of items that are not sensitive."""
    return frozenset(
        i.category
        for i in catalog.items.values()
        if not i.sensitive
        and i.category not in catalog.sensitive_categories
        and not names_sensitive(i.category)
    )


def profile_attributes(raw: Any, categories: frozenset[str]) -> tuple[dict[str, Any], list[FieldError]]:
    """The attribute values of a synthetic profile, or every problem with it."""
    if not isinstance(raw, dict):
        return {}, [FieldError(field="profile", message="must be an object of attribute: value")]
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in raw.items():
        path = f"profile.{str(name)[:MAX_NAME_IN_PATH]}"
        attr = ATTRIBUTES.get(name)
        if attr is None:
            declared = sorted(a.name for a in ATTRIBUTES.values() if not a.sensitive)
            errors.append(
                FieldError(field=path, message=f"unknown attribute; declared: {', '.join(declared)}")
            )
            continue
        if attr.sensitive:
            errors.append(
                FieldError(
                    field=path,
                    message=f"{name} is a sensitive category ({attr.data_category}), never a targeting input",
                )
            )
            continue
        problem, parsed = _value(attr.type, attr.values, value, categories)
        if problem:
            errors.append(FieldError(field=path, message=problem))
        else:
            values[name] = parsed
    return values, errors


def _value(
    kind: str, allowed: frozenset[str], value: Any, categories: frozenset[str]
) -> tuple[str | None, Any]:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            return f"must be a whole number from 0 to {MAX_INT}", None
        return None, value
    if kind == "enum":
        if not isinstance(value, str) or value not in allowed:
            return f"must be one of {sorted(allowed)}", None
        return None, value
    if kind == "str":
        if not isinstance(value, str) or not COUNTRY.fullmatch(value):
            return "must be a two-letter country code (ISO 3166-1, upper case)", None
        return None, value
    # str_set: the categories bought from
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of category names", None
    if len(set(value)) != len(value):
        return "must not repeat a category", None
    unknown = sorted(v for v in value if v not in categories)[:5]
    if unknown:
        return f"not categories a person can be targeted on: {unknown}; use {sorted(categories)}", None
    return None, frozenset(value)

"""Exact privacy values: epsilon is a Decimal from the moment it enters, so ten charges of 0.1
add up to exactly 1.0 and a cap of 1.0 refuses 1.0000001 (STYLE item 8)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Released answers and ledger rows keep this many decimal places; anything finer is refused
# rather than rounded, so the charged value is exactly the requested one.
MAX_PLACES = 9
# The largest cap an admin may give an analyst on a dataset. Past a few units of epsilon the
# guarantee is already weak; 1e308 is a typo or an attempt to switch the budget off, and it
# would be stored and summed as a number of 309 digits.
MAX_CAP = Decimal(100)


class EpsilonRefused(ValueError):
    """An epsilon the API will not charge; the message is safe to show."""


def to_epsilon(raw: object, per_query_cap: Decimal) -> Decimal:
    """Validate one requested epsilon: finite, > 0, <= the per-query cap, at most 9 places.

    Floats are read through their shortest repr (`1.0000001` stays 1.0000001, not the binary
    expansion), so the boundary the analyst typed is the boundary enforced."""
    if isinstance(raw, bool):
        raise EpsilonRefused("epsilon must be a number")
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise EpsilonRefused("epsilon must be a number") from None
    if not value.is_finite():
        raise EpsilonRefused("epsilon must be finite")
    if value <= 0:
        raise EpsilonRefused("epsilon must be greater than 0")
    if value > per_query_cap:
        raise EpsilonRefused(f"epsilon must be at most {per_query_cap} (the per-query cap)")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        raise EpsilonRefused(f"epsilon has more than {MAX_PLACES} decimal places")
    return value.normalize()


def to_cap(raw: object) -> Decimal:
    """Validate a budget cap set by an admin: finite, 0 <= cap <= MAX_CAP (0 freezes the
    analyst), at most MAX_PLACES decimal places."""
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise EpsilonRefused("cap must be a number") from None
    if not value.is_finite():
        raise EpsilonRefused("cap must be finite")
    if value < 0:
        raise EpsilonRefused("cap must be at least 0")
    if value > MAX_CAP:
        raise EpsilonRefused(f"cap must be at most {MAX_CAP}")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        raise EpsilonRefused(f"cap has more than {MAX_PLACES} decimal places")
    return value.normalize()


def to_delta_cap(raw: object) -> Decimal:
    """Validate a delta cap set by an admin: finite, >= 0 and below 1 (delta is a probability;
    1 would allow anything)."""
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise EpsilonRefused("delta cap must be a number") from None
    if not value.is_finite():
        raise EpsilonRefused("delta cap must be finite")
    if value < 0:
        raise EpsilonRefused("delta cap must be at least 0")
    if value >= 1:
        raise EpsilonRefused("delta cap must be below 1")
    return value.normalize()

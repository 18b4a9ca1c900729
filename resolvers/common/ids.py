"""GraphQL IDs that name database rows (items, users, segments, offers) as bigints, read one way
for every resolver: canonical ASCII decimal, 1 to 2^63-1 (the rule of privacy.principal, which
reads a user token's subject the same way). Anything else names no row: `01`, `+1`, `1.0`,
`\u0661`, `²`, and numbers past 64 bits, which would otherwise reach PostgreSQL and fail there."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from privacy.principal import MAX_USER_ID, parse_user_id

MAX_ID = MAX_USER_ID

# Where a resolver needs a bigint that matches no row (ids start at 1).
NO_ROW = -1


def parse_id(raw: object) -> int | None:
    """The bigint `raw` names, or None when it cannot name a row."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return parse_user_id(str(raw))
    if isinstance(raw, str):
        return parse_user_id(raw)
    return None


def row_id(raw: object) -> int:
    """`parse_id`, with NO_ROW for an id that names nothing (so a lookup finds nothing)."""
    parsed = parse_id(raw)
    return NO_ROW if parsed is None else parsed


def _validated(value: object) -> int:
    parsed = parse_id(value)
    if parsed is None:
        raise ValueError(f"must be an id: decimal digits 0-9 without a leading zero, at most {MAX_ID}")
    return parsed


# For pydantic models: an id that names no row is a field-level error of that field.
RowId = Annotated[int, BeforeValidator(_validated)]

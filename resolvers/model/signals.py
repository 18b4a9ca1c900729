"""A user's behavioural signal snapshot (the `user_signals` rollup), as the pure decision code
sees it. Loaded with one guarded query; parsing is pure so tests can build snapshots directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from privacy.guard import Guard
from privacy.purposes import Source
from sql import load_queries

Q = load_queries()


@dataclass(frozen=True)
class SignalSnapshot:
    sessions: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    category_affinity: dict[str, float] = field(default_factory=dict)
    purchased_items: dict[int, datetime] = field(default_factory=dict)  # item -> last purchase
    cart: dict[int, int] = field(default_factory=dict)  # item -> quantity
    cart_value_cents: int = 0
    cart_updated_at: datetime | None = None
    spend_by_day: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DD" -> cents
    price_level_counts: tuple[int, ...] = (0, 0, 0, 0)
    feature_counts: dict[str, int] = field(default_factory=dict)

    @property
    def is_cold(self) -> bool:
        """Nothing to personalize from yet: the cold-start path applies."""
        return not (self.category_affinity or self.purchased_items or self.cart)

    def spend_since(self, now: datetime, days: int) -> int:
        start = (now - timedelta(days=days)).date().isoformat()
        return sum(v for k, v in self.spend_by_day.items() if k >= start)

    def days_since_last_seen(self, now: datetime) -> int | None:
        return None if self.last_seen is None else max(0, (now - self.last_seen).days)


def _ts(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        return raw
    parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_signals(row: asyncpg.Record | dict[str, Any] | None) -> SignalSnapshot:
    if row is None:
        return SignalSnapshot()
    return SignalSnapshot(
        sessions=row["sessions"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        category_affinity={str(k): float(v) for k, v in (row["category_affinity"] or {}).items()},
        purchased_items={int(k): _ts(v) for k, v in (row["purchased_items"] or {}).items()},
        cart={int(k): int(v) for k, v in (row["cart"] or {}).items() if int(v) > 0},
        cart_value_cents=row["cart_value_cents"],
        cart_updated_at=row["cart_updated_at"],
        spend_by_day={str(k): int(v) for k, v in (row["spend_by_day"] or {}).items()},
        price_level_counts=tuple(row["price_level_counts"] or (0, 0, 0, 0)),
        feature_counts={str(k): int(v) for k, v in (row["feature_counts"] or {}).items()},
    )


async def load_signals(guard: Guard, user_id: int, purpose: str) -> SignalSnapshot:
    """The one read of the user's behavioural rollup; raises ConsentRequired before reading when
    the snapshot does not allow `purpose` on behavioural data."""
    row = await guard.fetchrow(
        Q.user_signal_snapshot,
        user_id,
        purpose=purpose,
        source=Source.BEHAVIOURAL,
        tables=("user_signals",),
        subject_user_id=user_id,
    )
    return parse_signals(row)


async def load_stated_interests(guard: Guard, user_id: int, purpose: str) -> tuple[str, ...]:
    """Interests the user stated (a comma-separated `interests` profile field), lower-cased."""
    row = await guard.fetchrow(
        Q.stated_interests,
        user_id,
        purpose=purpose,
        source=Source.STATED,
        tables=("profile_fields",),
        subject_user_id=user_id,
    )
    if row is None:
        return ()
    seen: dict[str, None] = {}
    for part in str(row["value"]).split(","):
        if part.strip():
            seen[part.strip().lower()] = None
    return tuple(seen)

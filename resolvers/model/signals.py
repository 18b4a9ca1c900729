"""A user's behavioural signals as the decision code sees them: the per-user rollups
(`user_signals` and the narrow tables beside it, migration 0070), in which sensitive items and
searches were left out when they were computed. One class for every surface; parsing is pure, so
tests build snapshots directly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Search:
    term: str  # normalised: lower-case, trimmed
    at: datetime


@dataclass(frozen=True)
class SignalSnapshot:
    sessions: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # The earlier of account creation and the first event seen (tenure counts from it).
    member_since: datetime | None = None
    category_affinity: Mapping[str, float] = field(default_factory=dict)
    purchased_items: Mapping[int, datetime] = field(default_factory=dict)  # item -> last purchase
    cart: Mapping[int, int] = field(default_factory=dict)  # item -> quantity
    cart_value_cents: int = 0
    cart_updated_at: datetime | None = None
    spend_by_day: Mapping[str, int] = field(default_factory=dict)  # "YYYY-MM-DD" -> cents
    total_spend_cents: int = 0
    price_level_counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    feature_counts: Mapping[str, int] = field(default_factory=dict)
    searches: tuple[Search, ...] = ()  # most recent first

    @property
    def is_cold(self) -> bool:
        """Nothing to personalize from yet: the cold-start path applies."""
        return not (self.category_affinity or self.purchased_items or self.cart or self.searches)

    def spend_since(self, now: datetime, days: int) -> int:
        start = (now - timedelta(days=days)).date().isoformat()
        return sum(v for k, v in self.spend_by_day.items() if k >= start)

    def days_since_last_seen(self, now: datetime) -> int | None:
        return None if self.last_seen is None else max(0, (now - self.last_seen).days)

    def tenure_days(self, now: datetime) -> int:
        start = self.member_since or self.first_seen
        return 0 if start is None else max(0, (now - start).days)

    @property
    def distinct_features(self) -> int:
        return sum(1 for count in self.feature_counts.values() if count > 0)

    @property
    def mean_price_level(self) -> float | None:
        bought = sum(self.price_level_counts)
        if bought == 0:
            return None
        return sum(level * n for level, n in enumerate(self.price_level_counts, start=1)) / bought


def _ts(raw: datetime) -> datetime:
    return raw if raw.tzinfo else raw.replace(tzinfo=UTC)


def _pairs(keys: Any, values: Any) -> list[tuple[Any, Any]]:
    return list(zip(keys or (), values or (), strict=True))


def parse_activity(row: Mapping[str, Any]) -> SignalSnapshot:
    """A snapshot from one `user_activity` row read with the activity included."""
    levels = tuple(row["price_level_counts"] or (0, 0, 0, 0))
    return SignalSnapshot(
        sessions=row["sessions"] or 0,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        member_since=row["member_since"],
        category_affinity={
            str(c): float(w) for c, w in _pairs(row["affinity_categories"], row["affinity_weights"])
        },
        purchased_items={int(i): _ts(t) for i, t in _pairs(row["bought_items"], row["bought_at"])},
        cart={int(i): int(q) for i, q in _pairs(row["cart_items"], row["cart_quantities"]) if q > 0},
        cart_value_cents=int(row["cart_value_cents"] or 0),
        cart_updated_at=row["cart_updated_at"],
        spend_by_day={d.isoformat(): int(c) for d, c in _pairs(row["spend_days"], row["spend_cents"])},
        total_spend_cents=int(row["total_spend_cents"] or 0),
        price_level_counts=(levels[0], levels[1], levels[2], levels[3]),
        feature_counts={str(f): int(n) for f, n in _pairs(row["features"], row["feature_uses"])},
        searches=tuple(Search(str(t), _ts(a)) for t, a in _pairs(row["search_terms"], row["search_at"])),
    )


def parse_interests(raw: str | None) -> tuple[str, ...]:
    """Interests the user stated (a comma-separated profile field), lower-cased, in order."""
    seen: dict[str, None] = {}
    for part in (raw or "").split(","):
        if part.strip():
            seen[part.strip().lower()] = None
    return tuple(seen)

"""Vectorised generation of the demo users and their events with one numpy Generator(PCG64(seed)),
so the same seed always draws the same world, and ten million events take seconds.

Rows come out as arrays of fixed-width codes (see demo.world's code tables, 0 = NULL) that
`pgcopy` packs into PostgreSQL's binary COPY format without a Python loop per row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo import world as w

DAY = 86_400
HISTORY_DAYS = 180
PG_EPOCH_S = 946_684_800  # 2000-01-01T00:00:00Z, the zero of binary timestamptz

# Activity segments: share of users, relative activity, tenure range in days, feature breadth.
SEGMENTS = ("newbie", "light", "regular", "power")
SEGMENT_WEIGHTS = (0.55, 0.30, 0.12, 0.03)
SEGMENT_ACTIVITY = np.array([0.3, 1.0, 4.0, 25.0])
SEGMENT_TENURE_DAYS = np.array([[2 / 24, 14], [14, 240], [30, 500], [120, 900]])
SEGMENT_FEATURE_BREADTH = np.array([[1, 2], [1, 3], [2, 5], [5, 8]])
# Event types after a session_start, before carts are resolved (codes into EVENT_TYPES).
T = {name: code for code, name in enumerate(w.EVENT_TYPES, start=1)}
BODY_TYPES = np.array(
    [T["view"], T["click"], T["dwell"], T["search"], T["add_to_cart"], T["booking"], T["feature_used"]]
)
BODY_WEIGHTS = (0.40, 0.14, 0.10, 0.07, 0.10, 0.03, 0.16)
RECENT_CART_DAYS = 10
# Consent profiles: accept all, essential only, a mix, or no answer yet (no rows).
CONSENT_PROFILE_WEIGHTS = (0.45, 0.15, 0.30, 0.10)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Item attributes as arrays indexed by item_id - 1."""

    item_ids: np.ndarray
    category: np.ndarray  # index into PRODUCT_CATEGORIES, -1 for restaurants
    price_level: np.ndarray
    price_cents: np.ndarray
    popularity: np.ndarray


def catalog_arrays(items: list[w.Item], popularity: np.ndarray) -> Catalog:
    index = {c: i for i, c in enumerate(w.PRODUCT_CATEGORIES)}
    return Catalog(
        item_ids=np.array([it.item_id for it in items], dtype=np.int64),
        category=np.array([index.get(it.category, -1) for it in items]),
        price_level=np.array([it.price_level for it in items]),
        price_cents=np.array([it.price_cents for it in items], dtype=np.int64),
        popularity=popularity,
    )


def popularity_and_rank(rng: np.random.Generator, n_items: int) -> tuple[np.ndarray, list[int | None]]:
    """Skewed popularity in (0, 1]; editorial picks ranked 1..40 for a random 40 items."""
    raw = rng.lognormal(0.0, 1.0, n_items)
    popularity = np.round(raw / raw.max(), 4).clip(0.0001, 1.0)
    ranks: list[int | None] = [None] * n_items
    for rank, idx in enumerate(rng.permutation(n_items)[:40], start=1):
        ranks[int(idx)] = rank
    return popularity, ranks


@dataclass(frozen=True, slots=True)
class Users:
    user_id: np.ndarray
    created_s: np.ndarray  # seconds relative to the anchor (negative)
    segment: np.ndarray
    tier: np.ndarray
    primary_category: np.ndarray
    columns: dict[str, np.ndarray]  # staging columns besides user_id and created_at


def _mask(bits: np.ndarray) -> np.ndarray:
    """Rows of 0/1 columns -> an int16 bit mask (column i is bit i)."""
    mask: np.ndarray = (bits.astype(np.int16) << np.arange(bits.shape[1], dtype=np.int16)).sum(axis=1)
    return mask.astype(np.int16)


def generate_users(rng: np.random.Generator, n: int) -> Users:
    segment = rng.choice(len(SEGMENTS), n, p=SEGMENT_WEIGHTS)
    lo, hi = SEGMENT_TENURE_DAYS[segment, 0], SEGMENT_TENURE_DAYS[segment, 1]
    created_s = -np.round((lo + rng.random(n) * (hi - lo)) * DAY).astype(np.int64)
    level = rng.choice(3, n, p=w.LEVEL_WEIGHTS) + 1
    is_minor = rng.random(n) < 0.03
    adult_birth = np.where(rng.random(n) < 0.85, rng.integers(1, len(w.BIRTH_RANGES) + 1, n), 0)
    birth = np.where(is_minor, w.BIRTH_RANGE_CODES.index(w.MINOR_BIRTH_RANGE) + 1, adult_birth)
    country = rng.choice(len(w.COUNTRIES), n, p=w.COUNTRY_WEIGHTS) + 1
    platform = rng.choice(len(w.PLATFORMS), n, p=w.PLATFORM_WEIGHTS) + 1
    channel = rng.choice(len(w.CHANNELS) + 1, n, p=(0.10, 0.40, 0.10, 0.20, 0.20))
    on_web = platform == w.PLATFORMS.index("web") + 1
    push = w.CHANNELS.index("push") + 1
    channel = np.where(on_web & (channel == push), w.CHANNELS.index("in_app") + 1, channel)
    objected = rng.random(n) < 0.04

    n_purposes = len(w.CONSENT_PURPOSES)
    essential_bit = 1 << w.CONSENT_PURPOSES.index("essential.service")
    everything = (1 << n_purposes) - 1
    profile = rng.choice(4, n, p=CONSENT_PROFILE_WEIGHTS)
    mixed = rng.integers(0, everything + 1, n) | essential_bit
    granted = np.select([profile == 0, profile == 1, profile == 2], [everything, essential_bit, mixed], 0)
    present = np.where(profile == 3, 0, everything)

    # email and in-app for everyone, push on the apps, SMS for some; the preferred one mostly on.
    chan_present = np.ones((n, len(w.CHANNELS)), dtype=bool)
    chan_present[:, w.CHANNELS.index("sms")] = rng.random(n) < 0.35
    chan_present[:, w.CHANNELS.index("push")] = ~on_web
    preferred = channel[:, None] == np.arange(1, len(w.CHANNELS) + 1)[None, :]
    chan_sub = chan_present & np.where(
        preferred, rng.random((n, len(w.CHANNELS))) < 0.9, rng.random((n, len(w.CHANNELS))) < 0.5
    )

    columns = {
        "level": level.astype(np.int16),
        "is_minor": is_minor,
        "birth": birth.astype(np.int16),
        "country": country.astype(np.int16),
        "platform": platform.astype(np.int16),
        "channel": channel.astype(np.int16),
        "objected": objected,
        "consent_present": present.astype(np.int16),
        "consent_granted": granted.astype(np.int16),
        "channels_present": _mask(chan_present),
        "channels_subscribed": _mask(chan_sub),
    }
    return Users(
        user_id=np.arange(1, n + 1, dtype=np.int64),
        created_s=created_s,
        segment=segment,
        tier=rng.choice(len(w.TIERS), n, p=w.TIER_WEIGHTS),
        primary_category=rng.choice(len(w.PRODUCT_CATEGORIES), n, p=w.CATEGORY_WEIGHTS),
        columns=columns,
    )

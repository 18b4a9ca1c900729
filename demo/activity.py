"""Vectorised generation of the demo events: sessions over the last 180 days, browsing biased to
each user's main category and price tier, carts that are mostly bought or emptied, except for a
share of recent ones left abandoned. Also `pgcopy`, the binary COPY packer for such arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo import world as w
from demo.gen import (
    BODY_TYPES,
    BODY_WEIGHTS,
    DAY,
    HISTORY_DAYS,
    RECENT_CART_DAYS,
    SEGMENT_ACTIVITY,
    SEGMENT_FEATURE_BREADTH,
    Catalog,
    T,
    Users,
)

SESSION_GAP_S = 45
# The learnable signal the purchase-propensity model is tested on (issue 14): a share of users
# stop coming at a point of their history (they churned), so how recently and how often someone
# came predicts whether they buy in the next weeks, as it does in real shops. Decided by a hash of
# the user id (no draw from the generator), so every other draw of a world stays as it was.
CHURN_SHARE = 0.4  # events of a session are 45 s apart (plus jitter below that), so strictly ordered


@dataclass(frozen=True, slots=True)
class Events:
    """Rows in user order; times are seconds relative to the anchor."""

    user_id: np.ndarray
    event_id: np.ndarray  # (n, 16) uint8, version-4 uuid bytes
    type: np.ndarray
    item_id: np.ndarray  # 0 = NULL
    value: np.ndarray  # -1 = NULL
    feature: np.ndarray
    query: np.ndarray
    platform: np.ndarray
    at_s: np.ndarray

    def __len__(self) -> int:
        return len(self.user_id)


def _pick_items(rng: np.random.Generator, catalog: Catalog, cat: np.ndarray, tier: np.ndarray) -> np.ndarray:
    """An item per row from category `cat` (-1: restaurants), by popularity and price-tier taste."""
    out = np.zeros(len(cat), dtype=np.int64)
    for c in range(-1, len(w.PRODUCT_CATEGORIES)):
        candidates = np.flatnonzero(catalog.category == c)
        for t in range(len(w.TIERS)):
            rows = np.flatnonzero((cat == c) & (tier == t))
            if len(rows) == 0:
                continue
            weight = (
                catalog.popularity[candidates]
                * w.TIER_LEVEL_PREFERENCE[t, catalog.price_level[candidates] - 1]
            )
            out[rows] = catalog.item_ids[rng.choice(candidates, len(rows), p=weight / weight.sum())]
    return out


def generate_events(
    rng: np.random.Generator, users: Users, catalog: Catalog, total: int, scripted_users: int = 0
) -> Events:
    """`total` random events over all users but the first `scripted_users` (the personas)."""
    n_users = len(users.user_id)
    weight = SEGMENT_ACTIVITY[users.segment] * rng.lognormal(0.0, 0.6, n_users)
    weight[:scripted_users] = 0.0
    counts = rng.multinomial(total, weight / weight.sum()) if total else np.zeros(n_users, dtype=np.int64)
    u = np.repeat(np.arange(n_users), counts)
    k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # position in user's history

    # Sessions: a per-user length; sessions start at sorted random times inside the window.
    length = rng.integers(3, 11, n_users)
    n_sessions = -(-counts // length)
    session_user = np.repeat(np.arange(n_users), n_sessions)
    window_start = np.maximum(users.created_s, -HISTORY_DAYS * DAY) + 60
    window = -3600 - window_start
    churn_hash = (users.user_id.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    churned = churn_hash.astype(float) / 2**32 < CHURN_SHARE
    stop = ((churn_hash >> np.uint64(8)) % np.uint64(1000)).astype(float) / 1000  # where they stop
    window = np.where(churned, (window * (0.15 + 0.7 * stop)).astype(np.int64), window)
    starts = window_start[session_user] + (rng.random(len(session_user)) * window[session_user]).astype(
        np.int64
    )
    starts = starts[np.lexsort((starts, session_user))]  # session_user is sorted: sorts within users
    pos = k % length[u]
    session = np.repeat(np.cumsum(n_sessions) - n_sessions, counts) + k // length[u]
    at_s = starts[session] + pos * SESSION_GAP_S + rng.integers(0, SESSION_GAP_S - 5, total)

    etype = np.where(pos == 0, T["session_start"], rng.choice(BODY_TYPES, total, p=BODY_WEIGHTS))
    atc = etype == T["add_to_cart"]
    etype[1:][atc[1:] & atc[:-1]] = T["view"]  # no two carts in a row: each can get a follow-up

    tier = users.tier[u]
    item = np.zeros(total, dtype=np.int64)
    product = np.isin(etype, [T["view"], T["click"], T["dwell"], T["add_to_cart"]])
    main = rng.random(total) < 0.55
    cat = np.where(
        main, users.primary_category[u], rng.choice(len(w.PRODUCT_CATEGORIES), total, p=w.CATEGORY_WEIGHTS)
    )
    item[product] = _pick_items(rng, catalog, cat[product], tier[product])
    booking = etype == T["booking"]
    item[booking] = _pick_items(rng, catalog, np.full(booking.sum(), -1), tier[booking])

    _resolve_carts(rng, etype, item, u, pos, at_s)

    value = np.full(total, -1, dtype=np.int64)
    value[etype == T["dwell"]] = np.round(rng.lognormal(9.5, 0.9, int((etype == T["dwell"]).sum())))
    purchase = etype == T["purchase"]
    value[purchase] = catalog.price_cents[item[purchase] - 1]
    booking = etype == T["booking"]
    value[booking] = rng.integers(1, 7, int(booking.sum()))  # party size

    feature = np.zeros(total, dtype=np.int16)
    used = np.flatnonzero(etype == T["feature_used"])
    breadth_lo = SEGMENT_FEATURE_BREADTH[users.segment, 0]
    breadth_hi = SEGMENT_FEATURE_BREADTH[users.segment, 1]
    breadth = rng.integers(breadth_lo, breadth_hi + 1)
    offset = rng.integers(0, len(w.FEATURES), n_users)
    fu = u[used]
    feature[used] = (offset[fu] + rng.integers(0, breadth[fu])) % len(w.FEATURES) + 1
    query = np.zeros(total, dtype=np.int16)
    search = etype == T["search"]
    query[search] = rng.integers(1, len(w.QUERIES) + 1, int(search.sum()))

    event_id = uuid4_bytes(rng, total)
    return Events(
        user_id=users.user_id[u],
        event_id=event_id,
        type=etype.astype(np.int16),
        item_id=item,
        value=value,
        feature=feature,
        query=query,
        platform=users.columns["platform"][u],
        at_s=at_s,
    )


def _resolve_carts(
    rng: np.random.Generator,
    etype: np.ndarray,
    item: np.ndarray,
    u: np.ndarray,
    pos: np.ndarray,
    at_s: np.ndarray,
) -> None:
    """Turn the event after each add_to_cart into its purchase or removal. Old carts are always
    resolved; recent ones are left abandoned now and then, as real carts are."""
    atc = np.flatnonzero(etype == T["add_to_cart"])
    nxt = np.minimum(atc + 1, len(etype) - 1)
    followable = (atc + 1 < len(etype)) & (u[nxt] == u[atc]) & (pos[nxt] != 0)
    recent = at_s[atc] > -RECENT_CART_DAYS * DAY
    roll = rng.random(len(atc))
    buy = np.where(recent, roll < 0.45, roll < 0.8) & followable
    remove = np.where(recent, (roll >= 0.45) & (roll < 0.55), roll >= 0.8) & followable
    etype[atc[buy] + 1] = T["purchase"]
    item[atc[buy] + 1] = item[atc[buy]]
    etype[atc[remove] + 1] = T["remove_from_cart"]
    item[atc[remove] + 1] = item[atc[remove]]
    # An old cart with no event after it in its session becomes a plain view: no stale carts.
    etype[atc[~followable & ~recent]] = T["view"]


_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_WIRE = {
    np.dtype(np.int64): ">i8",
    np.dtype(np.int32): ">i4",
    np.dtype(np.int16): ">i2",
    np.dtype(np.bool_): "?",
}


def uuid4_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n version-4 uuids as (n, 16) uint8 rows, drawn from `rng` (the same seed, the same ids)."""
    ids = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    ids[:, 6] = (ids[:, 6] & 0x0F) | 0x40
    ids[:, 8] = (ids[:, 8] & 0x3F) | 0x80
    return ids


def pgcopy(columns: list[np.ndarray]) -> bytes:
    """Binary COPY data for NOT NULL fixed-width columns: int64 -> bigint or timestamptz
    (microseconds since 2000), int32 -> integer, int16 -> smallint, bool -> boolean, (n, 16) uint8
    -> uuid, bytes `S<k>` -> text of exactly k bytes (a column of one repeated value, e.g. a purpose)."""
    n = len(columns[0])
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for j, col in enumerate(columns):
        if col.ndim == 2:
            kind = "V16"
        elif col.dtype.kind == "S":
            kind = f"S{col.dtype.itemsize}"
        else:
            kind = _WIRE[col.dtype]
        fields += [(f"len{j}", ">i4"), (f"col{j}", kind)]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for j, col in enumerate(columns):
        if col.ndim == 2:
            rows[f"len{j}"] = 16
            rows[f"col{j}"] = np.ascontiguousarray(col).view("V16").reshape(n)
        else:
            rows[f"len{j}"] = col.dtype.itemsize
            rows[f"col{j}"] = col
    return _HEADER + rows.tobytes() + _TRAILER

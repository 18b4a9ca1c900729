"""The catalog (items and their relations) as the pure decision code sees it.

The catalog is public reference data, so it is loaded without the guard, once per process and
pool, and kept for a short TTL: a feed request costs no catalog query in the steady state."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from sql import load_queries

Q = load_queries()

# Categories that reveal special-category data (DESIGN §4 / notes §3.8), on top of any item whose
# `sensitive_topic` is set. Items in them never drive a reason, never feed affinities or complements,
# and never appear in a personalized feed.
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


@dataclass(frozen=True, slots=True)
class Item:
    item_id: int
    name: str
    category: str
    subcategory: str
    kind: str
    price_cents: int
    price_level: int
    is_consumable: bool
    repurchase_days: int | None
    sensitive_topic: str | None
    popularity: float
    editorial_rank: int | None

    @property
    def sensitive(self) -> bool:
        return self.sensitive_topic is not None or self.category in SENSITIVE_CATEGORIES


@dataclass(frozen=True)
class Catalog:
    items: dict[int, Item]
    # item -> [(complement id, strength)], strongest first
    complements: dict[int, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    # item -> substitutes, symmetric (a substitute of a phone is a phone)
    substitutes: dict[int, frozenset[int]] = field(default_factory=dict)
    max_popularity: float = 1.0
    # SENSITIVE_CATEGORIES plus every category holding an item with a sensitive topic.
    sensitive_categories: frozenset[str] = SENSITIVE_CATEGORIES
    # Precomputed orders so a request never sorts the catalog:
    # non-sensitive items per category by popularity (then id), for the personalized ranker;
    popular_by_category: dict[str, tuple[Item, ...]] = field(default_factory=dict)
    # the non-personalized order (editorial rank, popularity, id): all non-sensitive items, and
    # per category (sensitive ones included: they appear only on their own category page).
    plain_order: tuple[Item, ...] = ()
    plain_by_category: dict[str, tuple[Item, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, items: list[Item], relations: list[tuple[int, int, str, float]]) -> Catalog:
        by_id = {i.item_id: i for i in items}
        comps: dict[int, list[tuple[int, float]]] = {}
        subs: dict[int, set[int]] = {}
        for a, b, relation, strength in relations:
            if a not in by_id or b not in by_id:
                continue  # inactive items take no part
            if relation == "complement":
                comps.setdefault(a, []).append((b, strength))
            else:
                subs.setdefault(a, set()).add(b)
                subs.setdefault(b, set()).add(a)
        popular = sorted(items, key=lambda i: (-i.popularity, i.item_id))
        plain = sorted(items, key=plain_key)
        popular_by_category: dict[str, list[Item]] = {}
        plain_by_category: dict[str, list[Item]] = {}
        for item in popular:
            if not item.sensitive:
                popular_by_category.setdefault(item.category, []).append(item)
        for item in plain:
            plain_by_category.setdefault(item.category, []).append(item)
        return cls(
            items=by_id,
            complements={k: tuple(sorted(v, key=lambda p: (-p[1], p[0]))) for k, v in comps.items()},
            substitutes={k: frozenset(v) for k, v in subs.items()},
            max_popularity=max((i.popularity for i in items), default=0.0) or 1.0,
            sensitive_categories=SENSITIVE_CATEGORIES | {i.category for i in items if i.sensitive_topic},
            popular_by_category={k: tuple(v) for k, v in popular_by_category.items()},
            plain_order=tuple(i for i in plain if not i.sensitive),
            plain_by_category={k: tuple(v) for k, v in plain_by_category.items()},
        )


def plain_key(item: Item) -> tuple[bool, int, float, int]:
    """The non-personalized order: editorial picks first (by rank), then popularity, then id."""
    return (item.editorial_rank is None, item.editorial_rank or 0, -item.popularity, item.item_id)


class CatalogCache:
    """One catalog per pool, refreshed after `ttl_s`; concurrent misses share one load."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[asyncpg.Pool, float, Catalog]] = {}
        self._lock = asyncio.Lock()

    async def get(self, pool: asyncpg.Pool, ttl_s: float) -> Catalog:
        entry = self._entries.get(id(pool))
        if entry is not None and entry[0] is pool and entry[1] > time.monotonic():
            return entry[2]
        async with self._lock:
            entry = self._entries.get(id(pool))
            if entry is not None and entry[0] is pool and entry[1] > time.monotonic():
                return entry[2]
            catalog = await load_catalog(pool)
            # Forget catalogs of closed pools (tests and restarts create new ones).
            self._entries = {k: v for k, v in self._entries.items() if not v[0].is_closing()}
            self._entries[id(pool)] = (pool, time.monotonic() + ttl_s, catalog)
            return catalog

    def clear(self) -> None:
        self._entries.clear()


async def load_catalog(pool: asyncpg.Pool) -> Catalog:
    async with pool.acquire() as conn:
        rows = await conn.fetch(Q.catalog_items)
        rels = await conn.fetch(Q.catalog_relations)
    items = [Item(**dict(r)) for r in rows]
    return Catalog.build(items, [(r[0], r[1], r[2], float(r[3])) for r in rels])


CATALOG = CatalogCache()

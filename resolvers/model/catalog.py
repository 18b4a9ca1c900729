"""The catalog (items and their relations) as the pure decision code sees it.

The catalog is public reference data, so it is loaded without the guard and kept per worker in
the reference cache (resolvers/model/reference.py): a feed request costs no catalog query in the
steady state. Whether an item is sensitive is the policy of privacy/sensitive.py."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import asyncpg

from privacy.sensitive import SENSITIVE_CATEGORIES, is_sensitive_item
from sql import load_queries

Q = load_queries()
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> tuple[str, ...]:
    """Search words of a text: lower-case, at least 3 characters, a plural 's' dropped."""
    out = []
    for w in _WORD.findall(text.lower().replace("_", " ")):
        if len(w) < 3:
            continue
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return tuple(dict.fromkeys(out))


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
        return is_sensitive_item(self.category, self.sensitive_topic)


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
    # non-sensitive items per (category, subcategory, price level) by popularity (then id): inside
    # one group every signal but popularity is the same, so its first n are its best n
    popular_by_group: dict[tuple[str, str, int], tuple[Item, ...]] = field(default_factory=dict)
    # search word -> non-sensitive items whose name, category or subcategory holds it
    by_word: dict[str, frozenset[int]] = field(default_factory=dict)

    def matches(self, term: str) -> dict[int, float]:
        """Items matching a search text: the share of its words each item holds (0..1], counting
        only words the catalog knows ("winter coat" in a catalog without winter is about coats)."""
        wanted = [w for w in words(term) if w in self.by_word]
        if not wanted:
            return {}
        hits: dict[int, int] = {}
        for w in wanted:
            for item_id in self.by_word.get(w, ()):
                hits[item_id] = hits.get(item_id, 0) + 1
        return {i: n / len(wanted) for i, n in hits.items()}

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
        popular_by_group: dict[tuple[str, str, int], list[Item]] = {}
        plain_by_category: dict[str, list[Item]] = {}
        for item in popular:
            if not item.sensitive:
                popular_by_category.setdefault(item.category, []).append(item)
                group = (item.category, item.subcategory, item.price_level)
                popular_by_group.setdefault(group, []).append(item)
        for item in plain:
            plain_by_category.setdefault(item.category, []).append(item)
        return cls(
            by_word=_index(i for i in items if not i.sensitive),
            items=by_id,
            complements={k: tuple(sorted(v, key=lambda p: (-p[1], p[0]))) for k, v in comps.items()},
            substitutes={k: frozenset(v) for k, v in subs.items()},
            max_popularity=max((i.popularity for i in items), default=0.0) or 1.0,
            sensitive_categories=SENSITIVE_CATEGORIES | {i.category for i in items if i.sensitive_topic},
            popular_by_category={k: tuple(v) for k, v in popular_by_category.items()},
            popular_by_group={k: tuple(v) for k, v in popular_by_group.items()},
            plain_order=tuple(i for i in plain if not i.sensitive),
            plain_by_category={k: tuple(v) for k, v in plain_by_category.items()},
        )


def plain_key(item: Item) -> tuple[bool, int, float, int]:
    """The non-personalized order: editorial picks first (by rank), then popularity, then id."""
    return (item.editorial_rank is None, item.editorial_rank or 0, -item.popularity, item.item_id)


def _index(items: Iterable[Item]) -> dict[str, frozenset[int]]:
    index: dict[str, set[int]] = {}
    for item in items:
        for w in words(f"{item.name} {item.category} {item.subcategory}"):
            index.setdefault(w, set()).add(item.item_id)
    return {w: frozenset(ids) for w, ids in index.items()}


async def load_catalog(conn: asyncpg.Pool | asyncpg.Connection) -> Catalog:
    rows = await conn.fetch(Q.catalog_items)
    rels = await conn.fetch(Q.catalog_relations)
    items = [Item(**dict(r)) for r in rows]
    return Catalog.build(items, [(r[0], r[1], r[2], float(r[3])) for r in rels])

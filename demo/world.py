"""The demo world's fixed vocabulary: the catalog (a store plus restaurants), its relations, and the
code tables the generator draws from. Only popularity and editorial rank depend on the seed, so
item ids mean the same thing in every seeded database (item 1 is always a coat)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privacy.purposes import PURPOSES

# Code tables: generated rows hold 1-based codes into these tuples; code 0 stands for NULL
# (PostgreSQL returns NULL for an out-of-range array subscript, which the loader relies on).
EVENT_TYPES = (
    "session_start",
    "view",
    "click",
    "dwell",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "booking",
    "feature_used",
)
FEATURES = (
    "search",
    "wishlist",
    "reorder",
    "store_locator",
    "reviews",
    "compare",
    "size_guide",
    "table_booking",
)
QUERIES = (
    "winter coat",
    "wool gloves",
    "cashmere scarf",
    "iphone",
    "android phone",
    "usb-c charger",
    "phone case",
    "coffee beans",
    "oat milk",
    "laundry detergent",
    "shampoo",
    "face cream",
    "vitamins",
    "italian restaurant",
    "sushi near me",
    "table for two",
    "sale",
    "gift ideas",
)
COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "US", "GB")
COUNTRY_WEIGHTS = (0.26, 0.16, 0.09, 0.12, 0.11, 0.14, 0.12)
PLATFORMS = ("web", "ios", "android")
PLATFORM_WEIGHTS = (0.45, 0.30, 0.25)
CHANNELS = ("email", "sms", "push", "in_app")
LEVELS = ("NONE", "BASIC", "FULL")
LEVEL_WEIGHTS = (0.12, 0.30, 0.58)
BIRTH_RANGES = ("1950-1959", "1960-1969", "1970-1979", "1980-1989", "1990-1999", "2000-2007")
MINOR_BIRTH_RANGE = "2009-2012"
BIRTH_RANGE_CODES = (*BIRTH_RANGES, MINOR_BIRTH_RANGE)
# Purposes in a fixed order: bit i of a user's consent masks is CONSENT_PURPOSES[i].
CONSENT_PURPOSES = tuple(PURPOSES)
NOTICE_VERSIONS = tuple(PURPOSES[p].version for p in CONSENT_PURPOSES)

# Price tiers of buyers: how likely each tier picks an item of price level 1..4.
TIERS = ("budget", "mid", "luxury")
TIER_WEIGHTS = (0.45, 0.40, 0.15)
TIER_LEVEL_PREFERENCE = np.array(
    [[0.50, 0.30, 0.15, 0.05], [0.15, 0.40, 0.35, 0.10], [0.05, 0.15, 0.35, 0.45]]
)
LEVEL_PRICE_FACTOR = (0.6, 1.0, 1.8, 3.5)

# Product categories users browse, with how common each is as someone's main interest.
PRODUCT_CATEGORIES = ("apparel", "electronics", "groceries", "beauty", "pharmacy", "baby")
CATEGORY_WEIGHTS = (0.28, 0.20, 0.25, 0.15, 0.07, 0.05)
SENSITIVE_TOPICS = {"pharmacy": "health", "baby": "pregnancy"}


@dataclass(frozen=True, slots=True)
class Line:
    """One subcategory: how many variants, base price, and the repurchase cycle of consumables."""

    category: str
    subcategory: str
    nouns: tuple[str, ...]
    count: int
    base_cents: int
    repurchase_days: int | None = None


ADJECTIVES = ("Classic", "Urban", "Nordic", "Everyday", "Premium", "Essential", "Studio", "Alpine")
LINES = (
    Line("apparel", "coats", ("Parka", "Wool Coat", "Trench Coat", "Puffer Jacket"), 12, 12000),
    Line("apparel", "gloves", ("Leather Gloves", "Wool Gloves", "Touch Gloves"), 10, 2500),
    Line("apparel", "scarves", ("Cashmere Scarf", "Knit Scarf", "Silk Scarf"), 10, 3000),
    Line("apparel", "hats", ("Beanie", "Fedora", "Bucket Hat"), 10, 2200),
    Line("apparel", "shirts", ("Oxford Shirt", "Linen Shirt", "T-Shirt"), 12, 3500),
    Line("apparel", "shoes", ("Sneakers", "Boots", "Loafers"), 12, 8000),
    Line("electronics", "phones", ("Phone X", "Phone Pro", "Phone Lite", "Phone Fold"), 8, 60000),
    Line("electronics", "phone_cases", ("Silicone Case", "Leather Case", "Clear Case"), 10, 2500),
    Line("electronics", "chargers", ("USB-C Charger", "Wireless Charger", "Car Charger"), 8, 2900),
    Line("electronics", "headphones", ("Earbuds", "Over-Ear Headphones"), 8, 9900),
    Line("electronics", "laptops", ("Ultrabook", "Laptop Pro"), 6, 99900),
    Line("groceries", "coffee", ("Coffee Beans", "Ground Coffee", "Espresso Pods"), 8, 899, 14),
    Line("groceries", "milk", ("Whole Milk", "Oat Milk", "Almond Milk"), 6, 149, 5),
    Line("groceries", "detergent", ("Laundry Detergent", "Dish Soap"), 6, 1299, 30),
    Line("groceries", "tea", ("Green Tea", "Black Tea", "Herbal Tea"), 6, 499, 21),
    Line("groceries", "pasta", ("Spaghetti", "Penne", "Fusilli"), 6, 229, 10),
    Line("groceries", "snacks", ("Dark Chocolate", "Crackers", "Trail Mix"), 8, 349),
    Line("beauty", "shampoo", ("Shampoo", "Conditioner"), 8, 899, 30),
    Line("beauty", "skincare", ("Face Cream", "Serum", "Sunscreen"), 10, 2499, 45),
    Line("beauty", "fragrance", ("Eau de Parfum", "Eau de Toilette"), 8, 6900),
    Line("beauty", "makeup", ("Lipstick", "Mascara", "Foundation"), 8, 1999),
    Line("pharmacy", "vitamins", ("Multivitamin", "Vitamin D", "Omega-3"), 8, 1299, 30),
    Line("pharmacy", "pain_relief", ("Ibuprofen", "Paracetamol"), 6, 599, 60),
    Line("pharmacy", "allergy", ("Antihistamine", "Nasal Spray"), 6, 899, 30),
    Line("pharmacy", "devices", ("Blood Pressure Monitor", "Thermometer"), 6, 4999),
    Line("baby", "pregnancy", ("Pregnancy Test", "Prenatal Vitamins", "Maternity Pillow"), 6, 1999),
    Line("baby", "diapers", ("Diapers Size 1", "Diapers Size 3", "Baby Wipes"), 6, 1599, 10),
    Line("baby", "formula", ("Infant Formula", "Follow-on Formula"), 6, 2299, 7),
    Line("baby", "baby_gear", ("Stroller", "Baby Carrier", "Car Seat"), 6, 24900),
)
CUISINES = ("italian", "japanese", "french", "mexican", "indian", "thai", "burgers", "vegan")
RESTAURANT_NAMES = ("Trattoria", "Bistro", "Kitchen", "House", "Table", "Garden")
RESTAURANTS_PER_CUISINE = 6
# An average ticket per person for price levels 1..4.
RESTAURANT_TICKET_CENTS = (1500, 3000, 6000, 12000)

# Relations: (subcategory, related subcategory, relation, how many related per item).
COMPLEMENTS = (
    ("coats", "gloves", 3),
    ("coats", "scarves", 3),
    ("coats", "hats", 2),
    ("phones", "phone_cases", 3),
    ("phones", "chargers", 2),
    ("laptops", "chargers", 1),
    ("coffee", "milk", 2),
    ("shampoo", "skincare", 1),
)
SUBSTITUTE_SUBCATEGORIES = ("phones", "laptops", "coats")


@dataclass(frozen=True, slots=True)
class Item:
    item_id: int
    sku: str
    name: str
    category: str
    subcategory: str
    kind: str
    price_cents: int
    price_level: int
    is_consumable: bool
    repurchase_days: int | None
    sensitive_topic: str | None


def catalog_items() -> list[Item]:
    """The fixed catalog: products line by line, then restaurants; ids are positions."""
    items: list[Item] = []

    def add(
        line_category: str, sub: str, name: str, kind: str, cents: int, level: int, days: int | None
    ) -> None:
        item_id = len(items) + 1
        items.append(
            Item(
                item_id=item_id,
                sku=f"{line_category[:3].upper()}-{item_id:05d}",
                name=name,
                category=line_category,
                subcategory=sub,
                kind=kind,
                price_cents=cents,
                price_level=level,
                is_consumable=days is not None,
                repurchase_days=days,
                sensitive_topic=SENSITIVE_TOPICS.get(line_category),
            )
        )

    for line in LINES:
        for i in range(line.count):
            level = i % 4 + 1  # every line has items at every price level
            noun = line.nouns[i % len(line.nouns)]
            adjective = ADJECTIVES[(i // len(line.nouns) + i) % len(ADJECTIVES)]
            cents = int(round(line.base_cents * LEVEL_PRICE_FACTOR[level - 1] * (1 + 0.07 * (i % 3)), -1))
            add(
                line.category,
                line.subcategory,
                f"{adjective} {noun}",
                "product",
                cents,
                level,
                line.repurchase_days,
            )
    for cuisine in CUISINES:
        for i in range(RESTAURANTS_PER_CUISINE):
            level = i % 4 + 1
            name = f"{cuisine.title()} {RESTAURANT_NAMES[i % len(RESTAURANT_NAMES)]} {i + 1}"
            add("restaurants", cuisine, name, "restaurant", RESTAURANT_TICKET_CENTS[level - 1], level, None)
    return items


def item_relations(items: list[Item]) -> list[tuple[int, int, str, float]]:
    """(item_id, related_item_id, relation, strength): complements by nearby price level, and
    substitutes between every pair in a substitutable subcategory."""
    by_sub: dict[str, list[Item]] = {}
    for item in items:
        by_sub.setdefault(item.subcategory, []).append(item)
    rows: list[tuple[int, int, str, float]] = []
    for sub, related_sub, per_item in COMPLEMENTS:
        for item in by_sub[sub]:
            ranked = sorted(
                by_sub[related_sub], key=lambda r: (abs(r.price_level - item.price_level), r.item_id)
            )
            for rank, related in enumerate(ranked[:per_item]):
                rows.append((item.item_id, related.item_id, "complement", round(1.0 - 0.15 * rank, 2)))
    for sub in SUBSTITUTE_SUBCATEGORIES:
        for item in by_sub[sub]:
            for other in by_sub[sub]:
                if other.item_id != item.item_id:
                    strength = 1.0 - 0.2 * abs(other.price_level - item.price_level)
                    rows.append((item.item_id, other.item_id, "substitute", round(strength, 2)))
    return rows

"""Scripted personas: users 1..6 of every demo world, with hand-written histories, so a demo (and
a test) can name a user and know what the rules should do for them. Their events replace the
random ones; the rest of the world is drawn as usual."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo import world as w
from demo.activity import SESSION_GAP_S, Events
from demo.gen import DAY, T, Users


@dataclass(frozen=True, slots=True)
class Persona:
    user_id: int
    summary: str
    level: str
    created_days_ago: int
    granted: tuple[str, ...] | None  # None: every purpose granted
    is_minor: bool = False
    objected: bool = False
    country: str = "DE"
    platform: str = "ios"
    channel: str = "push"
    tier: str = "mid"


MIN_EVENTS = 1000  # the scripts hold about 220
MARKETING_FREE = ("essential.service", "personalize.content", "personalize.profiling", "analytics.aggregate")
PERSONAS = (
    Persona(
        1, "power shopper: coat 20 d ago, phone 45 d ago, coffee due, cart", "FULL", 400, None, tier="luxury"
    ),
    Persona(2, "newbie: joined 3 days ago, one session", "FULL", 3, None, platform="android"),
    Persona(
        3, "budget regular at BASIC level, no marketing consent", "BASIC", 300, MARKETING_FREE, tier="budget"
    ),
    Persona(
        4, "minor with every consent granted and a cart", "FULL", 200, None, is_minor=True, channel="in_app"
    ),
    Persona(
        5,
        "personalization NONE, essential only, objected",
        "NONE",
        250,
        ("essential.service",),
        objected=True,
    ),
    Persona(
        6, "bought pregnancy and health items, and a hat", "FULL", 150, None, country="FR", channel="email"
    ),
)
# A session step: (type, subcategory / feature / query, price level or None).
Step = tuple[str, str | None, int | None]


def _scripts() -> list[tuple[int, int, int, list[Step]]]:
    """(user, days before the anchor, hour, steps): one session each."""
    sessions: list[tuple[int, int, int, list[Step]]] = []
    browse = ("coats", "headphones", "skincare", "tea", "shoes", "laptops")
    for i, day in enumerate(range(150, 0, -5)):  # user 1: every feature, often
        sessions.append(
            (1, day, 9, [("feature_used", w.FEATURES[i % len(w.FEATURES)], None), ("view", browse[i % 6], 3)])
        )
    sessions += [
        (1, 45, 19, [("view", "phones", 4), ("add_to_cart", "phones", 4), ("purchase", "phones", 4)]),
        (
            1,
            20,
            18,
            [
                ("view", "coats", 3),
                ("click", "coats", 3),
                ("add_to_cart", "coats", 3),
                ("purchase", "coats", 3),
            ],
        ),
        (1, 60, 20, [("booking", "italian", 3)]),
        (1, 25, 20, [("booking", "japanese", 4)]),
        (1, 10, 22, [("view", "vitamins", 2), ("view", "pregnancy", 1)]),
        (
            1,
            2,
            21,
            [("view", "headphones", 3), ("add_to_cart", "headphones", 3), ("add_to_cart", "scarves", 3)],
        ),
    ]
    for day in (72, 58, 44, 30, 16):  # coffee every 14 days; the next one is due
        sessions.append((1, day, 8, [("add_to_cart", "coffee", 3), ("purchase", "coffee", 3)]))
    sessions.append(
        (2, 2, 17, [("view", "coats", 2), ("search", "winter coat", None), ("view", "gloves", 2)])
    )
    for day in range(120, 0, -10):
        sessions.append(
            (
                3,
                day,
                12,
                [
                    ("feature_used", "reorder", None),
                    ("add_to_cart", "milk", 1),
                    ("purchase", "milk", 1),
                    ("view", "pasta", 1),
                ],
            )
        )
    sessions += [
        (
            4,
            30,
            16,
            [("view", "phone_cases", 2), ("add_to_cart", "phone_cases", 2), ("purchase", "phone_cases", 2)],
        ),
        (4, 1, 16, [("view", "headphones", 2), ("add_to_cart", "headphones", 2)]),
        (5, 90, 11, [("view", "shirts", 2), ("add_to_cart", "shirts", 2), ("purchase", "shirts", 2)]),
        (5, 12, 11, [("view", "shoes", 2), ("click", "shoes", 2)]),
        (
            6,
            60,
            10,
            [("view", "pregnancy", 1), ("add_to_cart", "pregnancy", 1), ("purchase", "pregnancy", 1)],
        ),
        (6, 40, 10, [("add_to_cart", "vitamins", 2), ("purchase", "vitamins", 2), ("view", "baby_gear", 3)]),
        (6, 10, 10, [("add_to_cart", "pregnancy", 2), ("purchase", "pregnancy", 2), ("view", "hats", 2)]),
        (6, 5, 10, [("view", "hats", 2), ("add_to_cart", "hats", 2), ("purchase", "hats", 2)]),
    ]
    return sessions


def persona_count(users: int, events: int) -> int:
    """Personas need room: all six users, and events to spare beyond their scripts (else none)."""
    return len(PERSONAS) if users >= len(PERSONAS) and events >= MIN_EVENTS else 0


def script_events() -> int:
    return sum(1 + len(steps) for _, _, _, steps in _scripts())


def apply_personas(users: Users) -> None:
    """Overwrite the first users' drawn attributes with the personas' (arrays are updated in place)."""
    c = users.columns
    everything = tuple(w.CONSENT_PURPOSES)
    for p in PERSONAS:
        i = p.user_id - 1
        users.created_s[i] = -p.created_days_ago * DAY
        users.tier[i] = w.TIERS.index(p.tier)
        c["level"][i] = w.LEVELS.index(p.level) + 1
        c["is_minor"][i] = p.is_minor
        c["birth"][i] = w.BIRTH_RANGE_CODES.index(w.MINOR_BIRTH_RANGE if p.is_minor else "1980-1989") + 1
        c["country"][i] = w.COUNTRIES.index(p.country) + 1
        c["platform"][i] = w.PLATFORMS.index(p.platform) + 1
        c["channel"][i] = w.CHANNELS.index(p.channel) + 1
        c["objected"][i] = p.objected
        c["consent_present"][i] = (1 << len(everything)) - 1
        c["consent_granted"][i] = sum(1 << everything.index(k) for k in (p.granted or everything))
        on_app = p.platform != "web"
        c["channels_present"][i] = 0b1011 | (0b0100 if on_app else 0)  # email, sms, in_app (+ push)
        c["channels_subscribed"][i] = 1 << w.CHANNELS.index(p.channel)


def persona_events(rng: np.random.Generator, users: Users, items: list[w.Item]) -> Events:
    """The scripted sessions as event rows, in user then time order."""
    rows: list[
        tuple[int, int, int, int, int, int, int, int]
    ] = []  # user, at, type, item, value, feature, query, platform
    for user, day, hour, steps in _scripts():
        start = -day * DAY + hour * 3600  # `day` days before the anchor, at `hour` o'clock
        platform = int(users.columns["platform"][user - 1])
        rows.append((user, start, T["session_start"], 0, -1, 0, 0, platform))
        for n, (kind, what, level) in enumerate(steps, start=1):
            item = _item(items, what, level) if level is not None else None
            value = -1
            if kind == "purchase" and item is not None:
                value = item.price_cents
            elif kind == "booking":
                value = 2
            feature = w.FEATURES.index(what) + 1 if kind == "feature_used" and what else 0
            query = w.QUERIES.index(what) + 1 if kind == "search" and what else 0
            item_id = item.item_id if item else 0
            rows.append((user, start + n * SESSION_GAP_S, T[kind], item_id, value, feature, query, platform))
    rows.sort(key=lambda r: (r[0], r[1]))
    a = np.array(rows, dtype=np.int64).reshape(-1, 8)
    event_id = np.frombuffer(rng.bytes(16 * len(a)), dtype=np.uint8).reshape(len(a), 16).copy()
    event_id[:, 6] = (event_id[:, 6] & 0x0F) | 0x40
    event_id[:, 8] = (event_id[:, 8] & 0x3F) | 0x80
    return Events(
        user_id=a[:, 0].copy(),
        event_id=event_id,
        type=a[:, 2].astype(np.int16),
        item_id=a[:, 3].copy(),
        value=a[:, 4].copy(),
        feature=a[:, 5].astype(np.int16),
        query=a[:, 6].astype(np.int16),
        platform=a[:, 7].astype(np.int16),
        at_s=a[:, 1].copy(),
    )


def _item(items: list[w.Item], subcategory: str | None, level: int) -> w.Item:
    return next(it for it in items if it.subcategory == subcategory and it.price_level == level)


def concat(first: Events, second: Events) -> Events:
    return Events(
        *(
            np.concatenate([getattr(first, f), getattr(second, f)])
            for f in (
                "user_id",
                "event_id",
                "type",
                "item_id",
                "value",
                "feature",
                "query",
                "platform",
                "at_s",
            )
        )
    )

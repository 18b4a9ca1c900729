"""Every personalized decision carries a complete `why` whose purposes the user granted (and has
not withdrawn): 1,000 random (user, surface) evaluations of the pure decision code, then a
smaller random sample over HTTP."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from privacy.consent import ConsentSnapshot, Level
from privacy.purposes import Source
from resolvers.config import DomainConfig, TagThresholds
from resolvers.explain.record import DecisionRecord, Mode
from resolvers.feed.rules import FeedRequest, decide_feed, plan_feed
from resolvers.model.catalog import Catalog, Item
from resolvers.model.controls import NO_CONTROLS
from resolvers.model.facts import AccountFacts, attribute_values, user_tags
from resolvers.model.rulebook import Rulebook
from resolvers.model.signals import SignalSnapshot
from resolvers.model.surfaces import Surface
from resolvers.offers.rules import Offer, decide_offers
from resolvers.segments.rules import SegmentVersion
from tests.conftest import gql
from tests.personalization_world import ALL_PURPOSES, ITEMS, RELATIONS, add_user, set_signals, world

NOW = datetime.now(UTC)
CFG = DomainConfig()
CATALOG = Catalog.build(
    [
        Item(i[0], i[2], i[3], i[4], "product", i[5], i[6], i[7] is not None, i[7], i[8], float(i[9]), i[10])
        for i in ITEMS
    ],
    RELATIONS,
)
SENSITIVE = {i.item_id for i in CATALOG.items.values() if i.sensitive}
OFFERS = [
    Offer(1, "Welcome", "welcome", None, None, 10, "offers", None),
    Offer(2, "Cart", "abandoned_cart", None, None, 5, "offers", None, {"min_cart_value_cents": 1000}),
    Offer(3, "Back", "re_engagement", None, None, 5, "offers", None, {"days_inactive": 10}),
    Offer(4, "Fans", "segment", 1, None, 5, "offers", None),
]
SEGMENTS = {
    1: SegmentVersion(
        1,
        "power apparel",
        1,
        {
            "or": [
                {"attr": "experience", "op": "eq", "value": "POWER"},
                {"attr": "purchased_category", "op": "in", "value": ["apparel", "electronics"]},
            ]
        },
    )
}


def random_user(rng: random.Random, user_id: int) -> tuple[ConsentSnapshot, SignalSnapshot]:
    consent = ConsentSnapshot(
        user_id=user_id,
        granted=frozenset(p for p in ALL_PURPOSES if rng.random() < 0.6),
        level=rng.choice(list(Level)),
        is_minor=rng.random() < 0.15,
        objected_to_marketing=rng.random() < 0.1,
        gpc=rng.random() < 0.15,
        consent_version=rng.randint(0, 5),
    )
    ids = list(CATALOG.items)
    signals = SignalSnapshot(
        sessions=rng.randint(0, 60),
        first_seen=NOW - timedelta(days=rng.randint(1, 300)),
        last_seen=NOW - timedelta(days=rng.randint(0, 60)),
        category_affinity={
            c: rng.random() * 5 for c in {CATALOG.items[i].category for i in rng.sample(ids, 3)}
        },
        purchased_items={
            i: NOW - timedelta(days=rng.randint(0, 90)) for i in rng.sample(ids, rng.randint(0, 4))
        },
        cart={i: 1 for i in rng.sample(ids, rng.randint(0, 2))},
        cart_value_cents=rng.randint(0, 30000),
        cart_updated_at=NOW - timedelta(hours=rng.randint(0, 48)),
        price_level_counts=tuple(rng.randint(0, 3) for _ in range(4)),
        feature_counts={f"f{k}": 1 for k in range(rng.randint(0, 7))},
    )
    return consent, signals


def assert_complete(record: DecisionRecord, consent: ConsentSnapshot) -> None:
    assert record.summary and record.reasons and record.controls and record.signal_sources
    assert all(r.code and r.text and r.weight >= 0 for r in record.reasons)
    assert record.consent_snapshot_id == consent.snapshot_id
    if record.mode is Mode.PERSONALIZED:
        assert record.purposes and record.data_categories, record
        assert set(record.purposes) <= consent.granted, (record.purposes, consent)
        assert all(consent.allows(p, Source.STATED) for p in record.purposes)  # none withdrawn or refused
    else:
        assert record.purposes == ()


def test_thousand_random_evaluations_have_complete_why() -> None:
    rng = random.Random(20261123)
    personalized = 0
    for n in range(1000):
        consent, signals = random_user(rng, n + 1)
        surface = rng.choice(list(Surface))
        category = rng.choice(["apparel", "electronics", "health"]) if surface is Surface.CATEGORY else None
        req = FeedRequest(surface, rng.randint(1, 15), NOW, category)
        plan = plan_feed(consent, req, CATALOG)
        interests = tuple(rng.sample(["apparel", "sports", "health", "home"], 2))
        rules = Rulebook.build(CATALOG, signals, NO_CONTROLS, NOW)
        tags = user_tags(signals, consent, frozenset(), TagThresholds(), NOW, NOW - timedelta(days=40))
        tier = tags.price_tier if tags.price_tier_record.mode is Mode.PERSONALIZED else None
        ranked = decide_feed(req, consent, plan, CATALOG, CFG.feed, rules, signals, interests, tier)
        assert len(ranked) <= req.limit
        # The ranker only scores plausible candidates; it must agree with ranking everything.
        everything = decide_feed(
            FeedRequest(surface, 100, NOW, category),
            consent,
            plan,
            CATALOG,
            CFG.feed,
            rules,
            signals,
            interests,
            tier,
        )
        assert [r.item.item_id for r in ranked] == [r.item.item_id for r in everything][: req.limit]
        for r in ranked:
            assert_complete(r.record, consent)
            if r.record.mode is Mode.PERSONALIZED:
                personalized += 1
                assert r.item.item_id not in SENSITIVE
                assert r.item.item_id not in signals.cart or plan.source is Source.STATED
                assert "health" not in str(r.record.to_json()).lower()
        facts = AccountFacts(NOW - timedelta(days=rng.randint(0, 30)), "DE", "ios")
        attrs = attribute_values(facts, signals, tags, consent, CATALOG, NOW)
        offer_rules = Rulebook.build(CATALOG, signals, NO_CONTROLS, NOW)
        for q in decide_offers(
            OFFERS, SEGMENTS, attrs, signals, offer_rules, consent, "offers", CFG.offers, NOW
        ):
            assert q.record.mode is Mode.PERSONALIZED
            assert_complete(q.record, consent)
    assert personalized > 1000  # the sample really exercises the personalized paths


FEED = """query($s: Surface!, $c: String) { viewer { feed(surface: $s, limit: 8, category: $c) {
  item { id } why { mode summary purposes dataCategories signalSources consentSnapshotId
  reasons { code text } controls { kind } } } } }"""


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


async def test_random_users_over_http(client, conn, token) -> None:
    rng = random.Random(7)
    ids = list(CATALOG.items)
    for user_id in range(500, 530):
        granted = tuple(p for p in ALL_PURPOSES if rng.random() < 0.6)
        await add_user(
            conn,
            user_id,
            level=rng.choice(["NONE", "BASIC", "FULL"]),
            granted=granted,
            is_minor=rng.random() < 0.2,
            interests="apparel,home",
        )
        await set_signals(
            conn,
            user_id,
            purchased={i: rng.randint(1, 60) for i in rng.sample(ids, 2)},
            affinity={"apparel": 2.0, "electronics": rng.random()},
            cart={rng.choice(ids): 1},
        )
        surface = rng.choice([s.name for s in Surface])
        category = "apparel" if surface == "CATEGORY" else None
        body = await gql(client, FEED, {"s": surface, "c": category}, token=token(sub=user_id))
        assert "errors" not in body, body
        for row in body["data"]["viewer"]["feed"]:
            why: dict[str, Any] = row["why"]
            assert why["summary"] and why["reasons"] and why["controls"] and why["signalSources"]
            assert why["consentSnapshotId"].startswith(f"cs-{user_id}-")
            if why["mode"] == "PERSONALIZED":
                assert why["purposes"] and set(why["purposes"]) <= set(granted)
                assert why["dataCategories"]
            else:
                assert why["purposes"] == []

"""The experiment results' SQL (`experiment_outcomes`) on a real PostgreSQL: one row per exposed
user, outcomes counted only after the first exposure, revenue and sessions clamped per user, only
users whose consent allows analytics.aggregate; and a planted effect found through the DP release."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg
import numpy as np
import pytest

from privacy.dp.experiments import Design, results, true_sums
from sql.pool import _init_connection
from tests.personalization_world import ALL_PURPOSES, world

N = 2000
CLAMP = 30_000


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


async def test_outcomes_are_bounded_per_user_and_counted_after_exposure(conn, db_dsn) -> None:
    now = datetime.now(UTC)
    rng = random.Random(4)
    await conn.execute(
        "INSERT INTO users (user_id, created_at, personalization_level) "
        "SELECT g, now() - interval '100 days', 'FULL' FROM generate_series(1, $1) g",
        N,
    )
    purposes = [p for p in ALL_PURPOSES if p != "analytics.aggregate"]
    await conn.execute(
        "INSERT INTO consents (user_id, purpose, granted, method, notice_version) "
        "SELECT g, p, true, 'explicit', 1 FROM generate_series(1, $1) g, unnest($2::text[]) p",
        N, purposes,
    )  # fmt: skip
    no_analytics = set(range(1, 101))  # these never count
    await conn.execute(
        "INSERT INTO consents (user_id, purpose, granted, method, notice_version) "
        "SELECT g, 'analytics.aggregate', g > 100, 'explicit', 1 FROM generate_series(1, $1) g",
        N,
    )
    exp_id = await conn.fetchval(
        "INSERT INTO experiments (key, status, created_by) VALUES ('sql_test', 'running', 't')"
        " RETURNING experiment_id"
    )
    definition = {
        "variants": [{"key": "control", "weight": 50}, {"key": "t", "weight": 50}],
        "primary_metric": "CONVERSION",
        "guardrail_metrics": ["REVENUE_PER_USER", "SESSIONS_PER_USER", "OFFER_CLICK_THROUGH"],
        "revenue_clamp_cents": CLAMP,
        "sessions_clamp": 3,
    }
    await conn.execute(
        "INSERT INTO experiment_versions (experiment_id, version, definition, created_by)"
        " VALUES ($1, 1, $2, 't')",
        exp_id, definition,
    )  # fmt: skip
    exposed_at = now - timedelta(days=2)
    # A sensitive item (items.sensitive, set from its category): buying it counts nowhere.
    sensitive = await conn.fetchval("SELECT item_id FROM items WHERE sensitive ORDER BY item_id LIMIT 1")
    assert sensitive is not None
    expected: dict[str, dict[str, int]] = {}
    exposures, events = [], []
    for uid in range(1, N + 1):
        arm = "t" if uid % 2 else "control"
        exposures.append((uid, exp_id, arm, "r", exposed_at))
        # Before exposure: a purchase and sessions that must not count.
        events.append((uid, uuid4(), "purchase", 1, 90_000, None, now - timedelta(days=3)))
        events.append((uid, uuid4(), "session_start", None, None, None, now - timedelta(days=3)))
        events.append((uid, uuid4(), "purchase", sensitive, 40_000, None, now - timedelta(days=1)))
        bought = rng.random() < (0.3 if arm == "t" else 0.2)
        cents = 0
        for _ in range(2 if bought else 0):
            value = rng.randint(1_000, 25_000)
            cents += value
            events.append((uid, uuid4(), "purchase", 1, value, None, now - timedelta(days=1)))
        sessions = rng.randint(0, 6)
        events += [
            (uid, uuid4(), "session_start", None, None, None, now - timedelta(hours=5))
            for _ in range(sessions)
        ]
        clicked = rng.random() < 0.1
        if clicked:
            events.append((uid, uuid4(), "offer_click", None, None, 1, now - timedelta(hours=1)))
        if uid in no_analytics:
            continue
        row = expected.setdefault(arm, {"exposed": 0, "CONVERSION": 0, "REVENUE_PER_USER": 0,
                                        "SESSIONS_PER_USER": 0, "OFFER_CLICK_THROUGH": 0})  # fmt: skip
        row["exposed"] += 1
        row["CONVERSION"] += int(bought)
        row["REVENUE_PER_USER"] += min(cents, CLAMP)
        row["SESSIONS_PER_USER"] += min(sessions, 3)
        row["OFFER_CLICK_THROUGH"] += int(clicked)
    await conn.executemany(
        "INSERT INTO experiment_exposures (user_id, experiment_id, variant, request_id, exposed_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        exposures,
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO events (user_id, event_id, type, item_id, value, offer_id, occurred_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        events,
    )  # fmt: skip
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=2, init=_init_connection)
    try:
        design = Design.of(definition)
        assert await true_sums(pool, exp_id, design) == expected
        # Through the release (noise on): the planted +50% relative conversion effect is found.
        out = await results(pool, "sql_test", Decimal(1), 100, rng=np.random.RandomState(1))
        assert out["refused"] is None
        conversion = out["arms"][1]["metrics"][0]
        assert conversion["metric"] == "CONVERSION" and conversion["lift"]["ci_low"] > 0
        revenue = out["arms"][1]["metrics"][1]["mean"]
        assert 0 <= revenue["ci_low"] <= revenue["ci_high"] <= CLAMP
    finally:
        await pool.close()

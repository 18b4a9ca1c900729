"""The layout tags are decided in Python for one user (resolvers/tags.py) and in SQL for the
analyst dimensions (dp_audience, migration 0030), from the same TagThresholds. An analyst's
"POWER users" must be the users the product treats as power users."""

from __future__ import annotations

from datetime import UTC, datetime

from resolvers.config import DPConfig, TagThresholds
from resolvers.model.signals import parse_activity
from resolvers.model.tags import experience, price_tier
from sql import load_queries
from tests import world


async def test_python_and_sql_tag_rules_agree_on_the_demo_world(demo_dsn: str) -> None:
    t = TagThresholds()
    conn = await world.connect(demo_dsn)
    try:
        sql_tags = {
            r["user_id"]: (r["experience"], r["price_tier"])
            for r in await conn.fetch(
                "SELECT user_id, experience, price_tier FROM dp_audience(NULL, NULL, NULL, NULL, NULL, NULL,"
                " $1, $2, $3, $4, $5, $6, $7, $8)",
                t.power_min_sessions,
                t.power_min_features,
                t.power_min_tenure_days,
                t.regular_min_sessions,
                t.newbie_max_tenure_days,
                t.luxury_min_mean_level,
                t.budget_max_mean_level,
                list(DPConfig().countries),
            )
        }
        # The rollups as the user model reads them (the batch form of its activity query).
        rows = await conn.fetch(load_queries().users_activity, list(sql_tags))
    finally:
        await conn.close()
    assert len(sql_tags) > 100
    now = datetime.now(UTC)
    seen = set()
    for r in rows:
        snap = parse_activity(r)
        python = (experience(snap, t, now)[0].value, price_tier(snap, t)[0].value)
        assert python == sql_tags[r["user_id"]], f"user {r['user_id']}: {python} != {sql_tags[r['user_id']]}"
        seen.add(python)
    # the demo world exercises every experience tag and every tier
    assert {e for e, _ in seen} == {"NEWBIE", "REGULAR", "POWER"}
    assert {p for _, p in seen} == {"BUDGET", "MID", "LUXURY"}

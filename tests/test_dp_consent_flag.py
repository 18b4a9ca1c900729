"""users.analytics_consent, the column the analyst audience reads instead of joining consents
(migration 0530): it says exactly whether the person's analytics.aggregate consent row exists and
is granted, after any write to consents (insert, upsert, update of any key column, delete,
truncate, an account's erasure), in the same transaction; a withdrawal through the API leaves the
very next release without the person."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from privacy.dp import templates
from privacy.dp.query import DPQuery, Template
from privacy.principal import Role
from privacy.purposes import ANALYTICS
from resolvers.analytics.args import params_from
from resolvers.config import DomainConfig
from tests.privacy_helpers import SET_CONSENT, add_users, call

OTHER = "personalize.content"
USERS = (1, 2, 3, 4, 5)
# Users whose flag disagrees with their consents row.
DISAGREE = """
SELECT coalesce(array_agg(u.user_id ORDER BY u.user_id), '{}') FROM users u
WHERE u.analytics_consent IS DISTINCT FROM EXISTS (
    SELECT 1 FROM consents c WHERE c.user_id = u.user_id AND c.purpose = 'analytics.aggregate' AND c.granted)
"""


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(db_dsn)
    try:
        yield c
    finally:
        await c.close()


def _write(rng: random.Random) -> tuple[str, tuple[object, ...]]:
    """One random write to consents, of any kind that can change the flag."""
    user, other_user = rng.choice(USERS), rng.choice(USERS)
    purpose = rng.choice((ANALYTICS, OTHER))
    granted = rng.random() < 0.5
    kind = rng.randrange(6)
    if kind == 0:
        return (
            "INSERT INTO consents (user_id, purpose, granted, method, notice_version)"
            " VALUES ($1, $2, $3, 'explicit', 1)"
            " ON CONFLICT (user_id, purpose) DO UPDATE SET granted = excluded.granted",
            (user, purpose, granted),
        )
    if kind == 1:
        return (
            "UPDATE consents SET granted = $3 WHERE user_id = $1 AND purpose = $2",
            (user, purpose, granted),
        )
    if kind == 2:
        return ("DELETE FROM consents WHERE user_id = $1 AND purpose = $2", (user, purpose))
    if kind == 3:  # a row moved to another purpose or person: no code path does it, the flag follows
        new_purpose = OTHER if purpose == ANALYTICS else ANALYTICS
        return (
            "UPDATE consents SET purpose = $3 WHERE user_id = $1 AND purpose = $2"
            " AND NOT EXISTS (SELECT 1 FROM consents o WHERE o.user_id = $1 AND o.purpose = $3)",
            (user, purpose, new_purpose),
        )
    if kind == 4:
        return (
            "UPDATE consents SET user_id = $3 WHERE user_id = $1 AND purpose = $2"
            " AND NOT EXISTS (SELECT 1 FROM consents o WHERE o.user_id = $3 AND o.purpose = $2)",
            (user, purpose, other_user),
        )
    return ("UPDATE consents SET granted = NOT granted WHERE purpose = $1", (purpose,))


async def test_flag_follows_every_kind_of_consent_write(conn: asyncpg.Connection) -> None:
    await conn.executemany("INSERT INTO users (user_id) VALUES ($1)", [(u,) for u in USERS])
    rng = random.Random(530)
    granted_seen = withdrawn_seen = 0
    for _ in range(300):
        statement, args = _write(rng)
        if rng.random() < 0.2:  # a transaction that rolls back leaves the flag as it was
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await conn.execute(statement, *args)
                    raise RuntimeError("roll back")
        else:
            async with conn.transaction():
                await conn.execute(statement, *args)
                # Within the writing transaction already.
                assert await conn.fetchval(DISAGREE) == []
        assert await conn.fetchval(DISAGREE) == []
        flagged = await conn.fetchval("SELECT count(*) FROM users WHERE analytics_consent")
        granted_seen += flagged > 0
        withdrawn_seen += flagged < len(USERS)
    assert granted_seen > 50 and withdrawn_seen > 50  # both states were exercised

    await conn.execute(
        "INSERT INTO consents (user_id, purpose, granted, method, notice_version)"
        " SELECT u, $1, true, 'explicit', 1 FROM unnest($2::bigint[]) u ON CONFLICT DO NOTHING",
        ANALYTICS,
        list(USERS),
    )
    await conn.execute("UPDATE consents SET granted = true WHERE purpose = $1", ANALYTICS)
    assert await conn.fetchval("SELECT count(*) FROM users WHERE analytics_consent") == len(USERS)
    await conn.execute("SELECT * FROM erase_user(2)")  # the account goes, its consents cascade
    assert await conn.fetchval(DISAGREE) == []
    await conn.execute("TRUNCATE consents")
    assert await conn.fetchval("SELECT count(*) FROM users WHERE analytics_consent") == 0


async def test_withdrawal_through_the_api_leaves_the_very_next_release(
    client: httpx.AsyncClient, token, db_dsn: str
) -> None:
    await add_users(db_dsn, *range(1, 11), level="FULL")
    for u in range(1, 11):
        body = await call(client, SET_CONSENT, {"p": ANALYTICS, "g": u <= 8}, token=token(Role.USER, u))
        assert body["data"]["setConsent"]["__typename"] == "ConsentReceipt"
    query = DPQuery(Template.DISTINCT_USERS, Decimal(1))
    params = params_from(DomainConfig())
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=1)
    try:

        async def audience() -> int:
            answer = await templates.run_without_noise(pool, query, params)
            return int(answer["count"]["value"])

        assert await audience() == 8
        await call(client, SET_CONSENT, {"p": ANALYTICS, "g": False}, token=token(Role.USER, 3))
        assert await audience() == 7
        await call(client, SET_CONSENT, {"p": OTHER, "g": False}, token=token(Role.USER, 4))
        assert await audience() == 7
        await call(client, SET_CONSENT, {"p": ANALYTICS, "g": True}, token=token(Role.USER, 9))
        assert await audience() == 8
    finally:
        await pool.close()
    rows = await asyncpg.connect(db_dsn)
    try:
        assert await rows.fetchval(DISAGREE) == []
    finally:
        await rows.close()

"""The segment membership rollup and the analysts' SEGMENT dimension: the refresh stores exactly
what the offers' evaluator (simulateSegment) decides, never for a user without consent for the
inference nor for a hidden one; a DP breakdown by segment releases every live segment with
sensitivity max_groups, its noiseless answer is the stored membership, and one user in many
segments moves it by at most max_groups."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from privacy.dp import templates
from privacy.dp.query import AudienceParams, DPQuery, Template
from privacy.principal import Role
from privacy.purposes import PURPOSES
from resolvers.analytics.args import params_from
from resolvers.config import DomainConfig
from tests.conftest import gql
from tests.dp_data import register, seed_audience
from tests.personalization_world import add_user, set_signals, world
from tests.privacy_helpers import sql

CREATE = """mutation($n: String!, $r: JSON!) { createSegment(name: $n, rule: $r) {
  __typename ... on Segment { id version } ... on InvalidInput { errors { field message } } } }"""
UPDATE = """mutation($id: ID!, $r: JSON!) { updateSegment(segmentId: $id, rule: $r) { __typename } }"""
PREVIEW = """query($s: ID!) { segmentPreview(segmentId: $s) {
  ... on SegmentSimulation { passed version } } }"""
REFRESH = "mutation { refreshSegmentMembership { segments finishedAt } }"
HIDE = """mutation($k: String!) { hideInference(key: $k) { __typename } }"""
BREAKDOWN = """{ usersBy(dimensions: [SEGMENT], epsilon: 1) { __typename
  ... on AudienceBreakdown { dimensions threshold groups { keys count { value sensitivity } } } } }"""
BIG_SPENDERS = {
    "and": [
        {"attr": "spend_90d_cents", "op": "gte", "value": 10000},
        {"attr": "purchased_category", "op": "eq", "value": "apparel"},
    ]
}
FREQUENT = {"attr": "sessions", "op": "gte", "value": 5}
PARAMS: AudienceParams = params_from(DomainConfig())
MAX_GROUPS = PARAMS.max_groups


async def create(client: Any, tok: str, rule: Any, name: str) -> str:
    body = await gql(client, CREATE, {"n": name, "r": rule}, token=tok)
    assert body["data"]["createSegment"]["__typename"] == "Segment", body
    return str(body["data"]["createSegment"]["id"])


async def members(conn: asyncpg.Connection) -> set[tuple[int, int]]:
    rows = await conn.fetch("SELECT user_id, segment_id FROM segment_members")
    return {(r["user_id"], r["segment_id"]) for r in rows}


async def test_refresh_stores_what_the_offer_evaluator_decides(client: Any, db_dsn: str, token: Any) -> None:
    day = "2099-01-01"  # in the future: always inside the spend window
    async with world(db_dsn) as conn:
        await add_user(conn, 200)  # big spender, every consent
        await set_signals(conn, 200, purchased={1: 5}, spend_by_day={day: 24000})
        await add_user(conn, 201)  # small spender, frequent
        await set_signals(conn, 201, sessions=9, purchased={1: 5}, spend_by_day={day: 500})
        await add_user(conn, 202, granted=("personalize.content",))  # no marketing consent
        await set_signals(conn, 202, sessions=9, purchased={1: 5}, spend_by_day={day: 24000})
        await add_user(conn, 203, level="BASIC")  # the level refuses derived data
        await set_signals(conn, 203, sessions=9, purchased={1: 5}, spend_by_day={day: 24000})
        await add_user(conn, 204)  # big spender who will hide the segment
        await set_signals(conn, 204, sessions=1, purchased={1: 5}, spend_by_day={day: 24000})
        await add_user(conn, 205, is_minor=True)  # no profiling-based marketing for minors
        await set_signals(conn, 205, sessions=9, purchased={1: 5}, spend_by_day={day: 24000})
        tok = token(Role.MARKETER, "m1")
        big = await create(client, tok, BIG_SPENDERS, "big spenders")
        frequent = await create(client, tok, FREQUENT, "frequent")
        # Saving a segment refreshed its rows already.
        assert await members(conn) == {
            (200, int(big)),
            (204, int(big)),
            (200, int(frequent)),
            (201, int(frequent)),
        }
        body = await gql(client, HIDE, {"k": f"segment:{big}"}, token=token(sub=204))
        assert body["data"]["hideInference"]["__typename"] == "HiddenInference"
        assert (204, int(big)) not in await members(conn)  # hiding removes the stored inference at once
        done = (await gql(client, REFRESH, token=tok))["data"]["refreshSegmentMembership"]
        assert done["segments"] == 2 and set(done) == {"segments", "finishedAt"}  # no counts
        stored = await members(conn)
        for user_id in range(200, 206):  # each user's own preview agrees with what was stored
            for seg in (big, frequent):
                sim = (await gql(client, PREVIEW, {"s": seg}, token=token(sub=user_id)))["data"]
                passed = sim["segmentPreview"]["passed"]
                assert passed is ((user_id, int(seg)) in stored), (user_id, seg, sim)
        assert stored == {(200, int(big)), (200, int(frequent)), (201, int(frequent))}
        export = await gql(client, "mutation { requestDataExport { data } }", token=token(sub=200))
        kept = export["data"]["requestDataExport"]["data"]["inferences"]["storedSegmentMemberships"]
        assert [(m["segment"], m["version"]) for m in kept] == [("big spenders", 1), ("frequent", 1)]
        # A new version re-evaluates and stores the version it matched.
        await gql(
            client, UPDATE, {"id": frequent, "r": {"attr": "sessions", "op": "gte", "value": 10}}, token=tok
        )
        rows = await conn.fetch(
            "SELECT user_id, version FROM segment_members WHERE segment_id = $1", int(frequent)
        )
        assert [(r["user_id"], r["version"]) for r in rows] == [(200, 2)]
        # Withdrawn consent: the next refresh removes the user's memberships.
        await conn.execute(
            "UPDATE consents SET granted = false WHERE user_id = 200 AND purpose = 'marketing.offers'"
        )
        await gql(client, REFRESH, token=tok)
        assert await members(conn) == set()
        audit = await conn.fetch(
            "SELECT DISTINCT subject_user_id FROM audit_log WHERE principal_role = 'marketer'"
        )
        assert {r["subject_user_id"] for r in audit} <= {200, 201, 202, 203, 204, 205}
    forbidden = await gql(client, REFRESH, token=token(Role.ANALYST, "ana"))
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


OFFERS_VERSION = PURPOSES["marketing.offers"].version
RULES = [
    {"attr": "sessions", "op": "gte", "value": 20},
    {"attr": "country", "op": "eq", "value": "US"},
    {"attr": "platform", "op": "in", "value": ["web", "ios"]},
    {"attr": "country", "op": "eq", "value": "JP"},  # nobody: still released (public key)
]


@pytest.fixture
async def audience(db_dsn: str) -> AsyncIterator[str]:
    """300 users (tests/dp_data.py) who allow analytics, offers and derived data."""
    await seed_audience(db_dsn, 1, 300)
    await sql(db_dsn, "UPDATE users SET personalization_level = 'FULL'")
    await sql(
        db_dsn,
        """INSERT INTO consents (user_id, purpose, granted, method, notice_version)
           SELECT user_id, 'marketing.offers', true, 'explicit', $1 FROM users""",
        OFFERS_VERSION,
    )
    yield db_dsn


async def test_breakdown_by_segment_over_the_api(
    client: httpx.AsyncClient, token: Any, audience: str
) -> None:
    tok = token(Role.MARKETER, "m1")
    ids = [await create(client, tok, rule, f"s{i}") for i, rule in enumerate(RULES)]
    await gql(client, REFRESH, token=tok)
    # The truth, independent of the evaluator: dp_data's users are deterministic in their id.
    truth = {
        ids[0]: sum(1 for g in range(1, 301) if g % 40 >= 20),
        ids[1]: sum(1 for g in range(1, 301) if g % 4 == 0),
        ids[2]: sum(1 for g in range(1, 301) if g % 3 in (0, 1)),
        ids[3]: 0,
    }
    stored = await sql(audience, "SELECT segment_id, count(*) AS n FROM segment_members GROUP BY 1")
    assert {str(r["segment_id"]): r["n"] for r in stored} == {k: v for k, v in truth.items() if v}
    await register(audience, "ana")
    body = await gql(client, BREAKDOWN, token=token(Role.ANALYST, "ana"))
    answer = body["data"]["usersBy"]
    assert answer["__typename"] == "AudienceBreakdown", body
    assert answer["threshold"] is None and answer["dimensions"] == ["SEGMENT"]
    assert sorted(g["keys"][0] for g in answer["groups"]) == sorted(ids)  # every live segment
    assert {g["count"]["sensitivity"] for g in answer["groups"]} == {MAX_GROUPS}
    # Noiseless: the same SQL over the stored membership gives exactly the membership counts.
    params = replace(PARAMS, segments=tuple(ids))
    pool = await asyncpg.create_pool(audience, min_size=1, max_size=1)
    try:
        q = DPQuery(Template.USERS_BY, Decimal(1), dimensions=("SEGMENT",))
        exact = await templates.run_without_noise(pool, q, params)
    finally:
        await pool.close()
    assert {g["keys"][0]: g["count"]["value"] for g in exact["groups"]} == truth
    # Funnels are not offered by segment: a clear field error, nothing charged.
    funnel = await gql(
        client,
        "{ funnel(dimension: SEGMENT, epsilon: 0.1) { ... on InvalidInput { errors { field message } } } }",
        token=token(Role.ANALYST, "ana"),
    )
    assert funnel["data"]["funnel"]["errors"][0]["field"] == "dimension"


HEAVY = 777_777


def _values(answer: dict[str, Any]) -> tuple[dict[tuple[str, ...], float], int]:
    values = {tuple(g["keys"]): g["count"]["value"] for g in answer["groups"]}
    (sensitivity,) = {g["count"]["sensitivity"] for g in answer["groups"]}
    return values, sensitivity


async def test_many_memberships_move_a_breakdown_by_at_most_max_groups(db_dsn: str) -> None:
    await seed_audience(db_dsn, 1, 200)
    await sql(
        db_dsn,
        """WITH s AS (INSERT INTO segments (name, created_by)
                      SELECT 'seg' || g, 'test' FROM generate_series(1, 20) g RETURNING segment_id)
           INSERT INTO segment_versions (segment_id, version, rule, created_by)
           SELECT segment_id, 1, '{"attr": "sessions", "op": "gte", "value": 1}', 'test' FROM s""",
    )
    ids = [r["segment_id"] for r in await sql(db_dsn, "SELECT segment_id FROM segments ORDER BY 1")]
    await sql(
        db_dsn,
        """INSERT INTO segment_members (user_id, segment_id, version)
           SELECT g, ($1::bigint[])[1 + g % 20], 1 FROM generate_series(1, 200) g""",
        ids,
    )
    params = replace(PARAMS, segments=tuple(str(i) for i in ids))
    queries = [
        DPQuery(Template.USERS_BY, Decimal(1), dimensions=("SEGMENT",)),
        DPQuery(Template.USERS_BY, Decimal(1), dimensions=("SEGMENT", "PLATFORM")),
        DPQuery(Template.USERS_BY, Decimal(1), dimensions=("SEGMENT", "CATEGORY")),
    ]
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=1)
    try:
        before = [await templates.run_without_noise(pool, q, params) for q in queries]
        await seed_audience(db_dsn, HEAVY, HEAVY)  # one more user with analytics consent ...
        await sql(
            db_dsn,
            """INSERT INTO segment_members (user_id, segment_id, version)
               SELECT $1::bigint, segment_id, 1 FROM segments""",  # ... in every one of 20 segments
            HEAVY,
        )
        after = [await templates.run_without_noise(pool, q, params) for q in queries]
    finally:
        await pool.close()
    moved = []
    for q, a, b in zip(queries, before, after, strict=True):
        va, sensitivity = _values(a)
        vb, _ = _values(b)
        l1 = sum(abs(vb.get(k, 0.0) - va.get(k, 0.0)) for k in va.keys() | vb.keys())
        assert 0 < l1 <= sensitivity, (q, l1, sensitivity)
        moved.append((q.dimensions, l1, sensitivity))
    # Tight: the user counts in exactly max_groups segments (x 1 platform, x 2 categories bought).
    assert moved == [
        (("SEGMENT",), MAX_GROUPS, MAX_GROUPS),
        (("SEGMENT", "PLATFORM"), MAX_GROUPS, MAX_GROUPS),
        (("SEGMENT", "CATEGORY"), 2 * MAX_GROUPS, MAX_GROUPS * MAX_GROUPS),
    ]


def test_cli_refreshes_segments(db_dsn: str, tmp_path: Any) -> None:
    env = {**os.environ, "GATEWAY_DATABASE_URL": db_dsn, "GATEWAY_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "refresh-segments"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "memberships 0" in done.stderr

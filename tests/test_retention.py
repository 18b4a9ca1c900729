"""Retention on a real PostgreSQL: after the job, rows older than each period are gone from every
table that holds a kind of record (whole old partitions dropped, the straddling partition and the
default partition trimmed), the rollups answer the same, impressions a frequency cap still counts
are kept, and the person's export and the notices say how long each kind is kept. Also: erasure
deletes from each partitioned table once, through its parent, with the index its reader delete
needs; a resent event is still a duplicate in a partitioned events table; partitions are created
ahead and rows waiting in the default partition move into them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from jobs.config import RetentionJobConfig
from jobs.retention import TABLES, run_retention
from privacy.dp import templates
from privacy.dp.query import DPQuery, Template
from privacy.principal import Role
from privacy.retention import DataKind, RetentionPolicy
from resolvers.analytics.args import params_from
from resolvers.config import DomainConfig
from resolvers.events.config import IngestConfig
from sql.pool import create_pool
from tests import world
from tests.conftest import gql, make_settings, running_client

TRACK = """mutation($events: [EventInput!]!) { trackEvents(events: $events) { __typename
  ... on TrackEventsResult { accepted duplicates } ... on InvalidInput { errors { field message } } } }"""
POLICY = RetentionPolicy(
    events_days=180,
    decisions_days=30,
    audit_log_days=60,
    impressions_days=30,
    messages_days=20,
    dp_answers_days=7,
)
NOW = datetime.now(UTC)
PERIOD_S = 86_400  # the DP release period


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def _rollups(conn: asyncpg.Connection) -> list[str]:
    """Everything the product answers from, as text: signals, category stats, DP aggregates."""
    rows = await conn.fetch("SELECT r::text FROM user_rollups r ORDER BY user_id")
    for table in ("user_signals", "user_spend_days", "user_purchases", "user_cart", "user_category_stats",
                  "user_features", "user_searches"):  # fmt: skip
        rows += await conn.fetch(f"SELECT t::text FROM {table} t ORDER BY t::text")
    return [r[0] for r in rows]


async def _noiseless(dsn: str) -> Any:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        q = DPQuery(Template.USERS_BY, Decimal(1), dimensions=("EXPERIENCE",))
        return await templates.run_without_noise(pool, q, params_from(DomainConfig()))
    finally:
        await pool.close()


async def _older(conn: asyncpg.Connection, table: str, column: str, cutoff: datetime) -> int:
    # Identifiers from jobs/retention.py's own map.
    return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {column} < $1", cutoff))


async def _partitions(conn: asyncpg.Connection, table: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = $1::regclass", table
    )
    return {r["name"] for r in rows}


async def test_retention_deletes_what_is_past_its_period_and_the_rollups_answer_the_same(
    db_dsn: str, tmp_path: Path, token: Callable[..., str]
) -> None:
    domain = DomainConfig(ingest=IngestConfig(max_age_days=400), retention=POLICY)
    settings = make_settings(db_dsn, tmp_path / "data", domain=domain)
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    for uid in (1, 2):
        await world.add_user(conn, uid, member_days=400)
    # Old partitions, as a gateway running for a year would have them.
    for table in ("events", "decisions", "audit_log", "impressions"):
        await conn.execute("SELECT ensure_time_partitions($1, $2, $3)", table, ago(380), NOW)
    async with running_client(settings) as client:
        # Events through the API, so the rollups are what ingestion made of them: a year of history.
        events = [
            world.ev(
                kind,
                ago_min=days * 1440,
                userId=str(uid),
                **({"itemId": "101"} if kind != "session_start" else {}),
            )
            for uid in (1, 2)
            for days in (370, 300, 200, 179, 30, 1)
            for kind in ("session_start", "view", "purchase")
        ]
        body = await gql(client, TRACK, {"events": events}, token=token(Role.APP, "loader"))
        assert body["data"]["trackEvents"] == {
            "__typename": "TrackEventsResult",
            "accepted": 36,
            "duplicates": 0,
        }
        for uid in (1, 2):  # recent decisions and audit entries, the way requests write them
            await gql(client, "{ viewer { feed(surface: HOME, limit: 3) { rank } } }", token=token(sub=uid))
    offer = await conn.fetchval(
        """INSERT INTO offers (name, kind, created_by, cap_per_window, cap_window_hours)
           VALUES ('long cap', 'welcome', 't', 1, 24 * 45) RETURNING offer_id"""
    )
    for uid in (1, 2):
        for days in (200, 100, 40, 35, 10):
            await conn.execute(
                """INSERT INTO decisions (user_id, surface, subject_kind, subject_id, mode, record,
                                          consent_snapshot_id, generated_at)
                   VALUES ($1, 'home', 'item', '101', 'PERSONALIZED', '{}', 'cs', $2)""",
                uid,
                ago(days),
            )
            await conn.execute(
                """INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id,
                                          purpose, table_name, at)
                   VALUES ('r', 'user', $1, $2, 'essential.service', 'users', $3)""",
                str(uid),
                uid,
                ago(days * 2),  # 400 days: older than every partition, so in the default one
            )
            await conn.execute(
                "INSERT INTO impressions (user_id, offer_id, channel, shown_at)"
                " VALUES ($1, $2, 'in_app', $3)",
                uid,
                offer,
                ago(days),
            )
            await conn.execute(
                """INSERT INTO outbox (user_id, message_id, kind, channel, purpose, source, dedupe_key,
                                       decision_id, message, status, created_at)
                   VALUES ($1, $2, 'reminder', 'email', 'marketing.communications.email', 'behavioural',
                           $3, $2, '{"text": "t", "why": {}}', 'sent', $4)""",
                uid,
                uuid.uuid4(),
                f"k{days}",
                ago(days),
            )
    # Answers in the day-long release periods of 30 and 3 days ago, each with its spender's receipt.
    await conn.execute(
        "INSERT INTO analysts (analyst_id, name, role, created_by) VALUES ('ret', 'ret', 'analyst', 'test')"
    )
    charge = await conn.fetchval(
        """INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon)
           VALUES ('ret', 'audience', 'charge', 0.2) RETURNING event_id"""
    )
    for days in (30, 3):
        epoch = int(ago(days).timestamp()) // PERIOD_S
        await conn.execute(
            """INSERT INTO dp_answers (dataset, query_hash, data_version, epoch, canonical, answer,
                                      epsilon, released_at)
               VALUES ('audience', $1, 1, $2, 'q', '{}', 0.1, $3)""",
            f"h{days}",
            epoch,
            ago(days),
        )
        await conn.execute(
            """INSERT INTO dp_answer_receipts (analyst_id, dataset, data_version, epoch, query_hash,
                                              charge_event)
               VALUES ('ret', 'audience', 1, $1, $2, $3)""",
            epoch,
            f"h{days}",
            charge,
        )
    await conn.execute(
        """INSERT INTO pgqueuer_log (job_id, status, priority, entrypoint, created)
           VALUES (1, 'successful', 0, 'x', $1), (2, 'successful', 0, 'x', now())""",
        ago(45),
    )
    old_event_partitions = {
        p for p in await _partitions(conn, "events") if p.endswith(ago(300).strftime("%Y%m01"))
    }
    assert old_event_partitions
    before = await _rollups(conn)
    dp_before = await _noiseless(db_dsn)

    pool = await create_pool(db_dsn, min_size=1, max_size=2)
    try:
        report = await run_retention(pool, POLICY, RetentionJobConfig(batch_rows=100), PERIOD_S)
        again = await run_retention(pool, POLICY, RetentionJobConfig(batch_rows=100), PERIOD_S)
    finally:
        await pool.close()

    for kind, (table, column) in TABLES.items():
        cutoff = report[kind.value].cutoff
        assert await _older(conn, table, column, cutoff) == 0, table
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") > 0, table
        assert again[kind.value].rows_deleted == 0 and again[kind.value].partitions_dropped == []
    # Whole partitions went, without visiting their rows; the default partition was trimmed too.
    assert old_event_partitions.isdisjoint(await _partitions(conn, "events"))
    assert set(report["events"].partitions_dropped) >= old_event_partitions
    assert (
        report["audit_log"].rows_deleted > 0
        and await conn.fetchval("SELECT count(*) FROM audit_log_default") == 0
    )
    # Impressions: 30 days by policy, but the live offer's cap counts 45 days back, so 35 and 40 stay.
    assert report["impressions"].cutoff <= datetime.now(UTC) - timedelta(days=45)
    assert await conn.fetchval("SELECT count(*) FROM impressions WHERE shown_at < $1", ago(30)) == 4
    assert await conn.fetchval("SELECT count(*) FROM pgqueuer_log WHERE entrypoint = 'x'") == 1
    # The receipt went with its answer; the kept answer keeps its receipt.
    assert report["dp_answer_receipts"].rows_deleted == 1
    assert await conn.fetch("SELECT query_hash FROM dp_answer_receipts WHERE analyst_id = 'ret'") == [("h3",)]
    assert await _older(conn, "events", "occurred_at", ago(180)) == 0
    assert await conn.fetchval("SELECT count(*) FROM events") == 2 * 3 * 3  # 179, 30 and 1 days ago
    # The rollups (and what analysts get from them) are untouched.
    assert await _rollups(conn) == before
    assert await _noiseless(db_dsn) == dp_before
    await conn.close()

    async with running_client(settings) as client:
        export = await gql(client, "mutation { requestDataExport { data } }", token=token(sub=1))
        data = export["data"]["requestDataExport"]["data"]
        periods = {p["kind"]: p["keptForDays"] for p in data["retention"]["periods"]}
        assert periods == {k.value: POLICY.days(k) for k in DataKind}
        assert "rollups" in data["retention"]["untilErasure"]
        notices = data["consent"]["notices"]
        assert "decision records for 30 days" in notices["personalize.content"]["retention"]
        assert data["messages"]["total"] == 1  # a 20-day period: only the message of 10 days ago
        public = await gql(client, "{ purposes { key notice { retention } } }")
        texts = {p["key"]: p["notice"]["retention"] for p in public["data"]["purposes"]}
        assert texts["marketing.communications.email"] == (
            "We keep messages to you for 20 days; decision records for 30 days, then delete them."
        )


async def test_erasure_deletes_from_each_partitioned_table_once(db_dsn: str) -> None:
    conn = await world.connect(db_dsn)
    try:
        await world.add_user(conn, 7)
        await conn.execute("SELECT ensure_time_partitions('events', $1, now())", ago(90))
        for days in (80, 40, 0.01):
            await conn.execute(
                "INSERT INTO events (user_id, event_id, type, occurred_at)"
                " VALUES (7, $1, 'session_start', $2)",
                uuid.uuid4(),
                ago(days),
            )
        await conn.execute(
            "INSERT INTO events (user_id, event_id, type, occurred_at) VALUES (7, $1, 'session_start', $2)",
            uuid.uuid4(),
            ago(3000),  # no partition: the default one
        )
        await conn.execute(
            """INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                                     table_name)
               VALUES ('r', 'user', '7', 0, 'essential.service', 'users')"""  # 0: about no one
        )
        # The reader delete is an index scan (audit_log_reader), not a read of every audit entry.
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    "EXPLAIN DELETE FROM audit_log WHERE principal_role = 'user' AND principal_id = '7'"
                )
            )
        assert "Seq Scan" not in plan and "Index Cond: (principal_id = '7'::text)" in plan, plan
        row = await conn.fetchrow("SELECT rows_deleted, tables FROM erase_user(7)")
        assert await conn.fetchval("SELECT count(*) FROM events WHERE user_id = 7") == 0
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE principal_id = '7'") == 0
        tables = list(row["tables"])
        assert len(tables) == len(set(tables))
        assert {"events", "decisions", "audit_log", "impressions", "outbox", "users"} <= set(tables)
        partitions = {r[0] for r in await conn.fetch("SELECT partition_name FROM time_partitions")}
        assert not partitions & set(tables) and not [t for t in tables if t.endswith("_default")]
        assert row["rows_deleted"] == 4 + 1 + 1 + 3  # events, reader audit entry, user, consents
    finally:
        await conn.close()


async def test_a_resent_event_is_a_duplicate_in_any_partition(
    db_dsn: str, tmp_path: Path, token: Callable[..., str]
) -> None:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, 1)
    await conn.execute("SELECT ensure_time_partitions('events', $1, now())", ago(300))
    await conn.close()
    settings = make_settings(
        db_dsn, tmp_path / "data", domain=DomainConfig(ingest=IngestConfig(max_age_days=400))
    )
    batch = [world.ev("session_start", ago_min=days * 1440, userId="1") for days in (0, 35, 250, 399)]
    async with running_client(settings) as client:
        tok = token(Role.USER, 1)  # an app is not told about duplicates (docs/personalization.md)
        first = await gql(client, TRACK, {"events": batch}, token=tok)
        again = await gql(client, TRACK, {"events": batch}, token=tok)
    assert first["data"]["trackEvents"]["accepted"] == 4
    assert again["data"]["trackEvents"] == {"__typename": "TrackEventsResult", "accepted": 0, "duplicates": 4}


async def test_partitions_are_made_ahead_and_rows_waiting_in_the_default_partition_move_in(
    db_dsn: str,
) -> None:
    conn = await world.connect(db_dsn)
    try:
        await world.add_user(conn, 1)
        far = NOW + timedelta(days=50)  # beyond the weeks the migration made
        await conn.execute(
            """INSERT INTO decisions (user_id, surface, subject_kind, subject_id, mode, record,
                                      consent_snapshot_id, generated_at)
               VALUES (1, 'home', 'item', '1', 'PERSONALIZED', '{}', 'cs', $1)""",
            far,
        )
        assert await conn.fetchval("SELECT count(*) FROM decisions_default") == 1
        made = await conn.fetchval("SELECT ensure_time_partitions('decisions', now(), $1)", far)
        assert made >= 1
        assert await conn.fetchval("SELECT count(*) FROM decisions_default") == 0
        assert await conn.fetchval("SELECT count(*) FROM decisions WHERE generated_at = $1", far) == 1
        where = await conn.fetchval(
            "SELECT tableoid::regclass::text FROM decisions WHERE generated_at = $1", far
        )
        bounds = await conn.fetchrow("SELECT lo, hi FROM time_partitions WHERE partition_name = $1", where)
        assert bounds["lo"] <= far < bounds["hi"] and bounds["hi"] - bounds["lo"] == timedelta(days=7)
        assert await conn.fetchval("SELECT ensure_time_partitions('decisions', now(), $1)", far) == 0
        # A trim helper never runs over a partitioned parent (ctids repeat across partitions).
        try:
            await conn.execute("SELECT delete_rows_before('decisions', 'generated_at', now(), 10)")
            raise AssertionError("delete_rows_before accepted a partitioned table")
        except asyncpg.RaiseError as exc:
            assert "is partitioned" in str(exc)
    finally:
        await conn.close()


def test_every_kind_has_a_table_and_every_purpose_keeps_known_kinds() -> None:
    from privacy.purposes import PURPOSES

    assert set(TABLES) == set(DataKind)
    assert all(p.keeps for p in PURPOSES.values())
    assert orjson.dumps(POLICY.periods())  # JSON-ready


async def test_retention_keeps_the_dp_answers_of_the_current_release_period(db_dsn: str) -> None:
    """An answer is never deleted inside its release period, whatever the retention setting:
    deleting it would let the same query be released again with fresh noise in that period."""
    conn = await world.connect(db_dsn)
    period_s = 31 * 86_400  # the longest period allowed; answers 2 days old are in this one
    now = datetime.fromtimestamp((int(NOW.timestamp()) // period_s) * period_s + 10 * 86_400, UTC)
    epoch = int(now.timestamp()) // period_s
    await conn.execute(
        """INSERT INTO dp_answers (dataset, query_hash, data_version, epoch, canonical, answer, epsilon,
                                  released_at)
           VALUES ('audience', 'current', 1, $1, 'q', '{}', 0.1, $2),
                  ('audience', 'previous', 1, $3, 'q', '{}', 0.1, $4)""",
        epoch,
        now - timedelta(days=9),
        epoch - 1,
        now - timedelta(days=40),
    )
    pool = await create_pool(db_dsn, min_size=1, max_size=2)
    try:
        policy = POLICY.model_copy(update={"dp_answers_days": 1})
        report = await run_retention(pool, policy, RetentionJobConfig(batch_rows=100), period_s, now=now)
    finally:
        await pool.close()
    assert report["dp_answers"].cutoff == datetime.fromtimestamp(epoch * period_s, UTC)
    assert await conn.fetch("SELECT query_hash FROM dp_answers WHERE dataset = 'audience'") == [("current",)]
    await conn.close()

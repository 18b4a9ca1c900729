"""Retention: every kind of record in privacy/retention.py is deleted once it is older than its
period, so what the notices and the export promise is what happens.

For the time-partitioned tables (events, decisions, audit_log, impressions; migration 0310) the
job first makes sure partitions exist from the cutoff to some weeks ahead, drops the partitions
wholly older than the cutoff (cheap: no row is visited), then deletes the older rows left in the
partition that straddles the cutoff and in the default partition, in committed batches. Other
tables (the outbox, cached DP answers, the job queue's own history) are trimmed in batches.

What the product answers from is not here: the per-user rollups (user_signals,
user_category_stats) and segment memberships are maintained at ingestion and refresh, never
rebuilt from raw events, and kept while the account exists. Impressions are kept at least as
long as the longest frequency-cap window of a live offer, so caps count the same after a run.
Idempotent: a second run finds nothing older than the cutoffs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from jobs import partitions
from jobs.config import RetentionJobConfig
from privacy.retention import DataKind, RetentionPolicy
from sql import load_queries

Q = load_queries()

# Where each kind lives: table and the time column its age is measured by.
TABLES: dict[DataKind, tuple[str, str]] = {
    DataKind.EVENTS: ("events", "occurred_at"),
    DataKind.DECISIONS: ("decisions", "generated_at"),
    DataKind.AUDIT: ("audit_log", "at"),
    DataKind.IMPRESSIONS: ("impressions", "shown_at"),
    DataKind.MESSAGES: ("outbox", "created_at"),
    DataKind.DP_ANSWERS: ("dp_answers", "released_at"),
}
# The job queue's history (not personal data), kept `job_history_days`.
JOB_HISTORY: tuple[tuple[str, str], ...] = (("pgqueuer_log", "created"), ("pgqueuer_statistics", "created"))


@dataclass(frozen=True, slots=True)
class KindReport:
    table: str
    cutoff: datetime
    partitions_dropped: list[str]
    rows_deleted: int


async def cutoff_for(pool: asyncpg.Pool, kind: DataKind, policy: RetentionPolicy, now: datetime) -> datetime:
    cutoff = now - timedelta(days=policy.days(kind))
    if kind is DataKind.IMPRESSIONS:
        longest = int(await pool.fetchval(Q.longest_cap_window_hours))
        cutoff = min(cutoff, now - timedelta(hours=longest))
    return cutoff


async def run_retention(
    pool: asyncpg.Pool, policy: RetentionPolicy, config: RetentionJobConfig, now: datetime | None = None
) -> dict[str, KindReport]:
    now = now or datetime.now(UTC)
    partitioned = await partitions.partitioned_tables(pool)
    ahead = now + timedelta(days=config.partitions_ahead_days)
    report: dict[str, KindReport] = {}
    for kind, (table, column) in TABLES.items():
        cutoff = await cutoff_for(pool, kind, policy, now)
        dropped: list[str] = []
        if table in partitioned:
            await partitions.ensure(pool, table, cutoff, ahead, config.lock_timeout_ms)
            dropped = await partitions.drop_before(pool, table, cutoff, config.lock_timeout_ms)
            relations = await partitions.relations_before(pool, table, cutoff)
        else:
            relations = [table]
        deleted = 0
        for relation in relations:
            deleted += await partitions.delete_before(pool, relation, column, cutoff, config.batch_rows)
        report[kind.value] = KindReport(table, cutoff, dropped, deleted)
    history_cutoff = now - timedelta(days=config.job_history_days)
    for table, column in JOB_HISTORY:
        deleted = await partitions.delete_before(pool, table, column, history_cutoff, config.batch_rows)
        report[table] = KindReport(table, history_cutoff, [], deleted)
    return report

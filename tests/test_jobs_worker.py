"""`gateway worker` processes on a real PostgreSQL: a worker SIGKILLed mid-job leaves the job to
another worker, which completes it once, and the sink sees each message once (by idempotency
key) although some were sent twice; segment membership refreshes itself on schedule and the
analysts' SEGMENT dimension follows; a job that keeps failing is retried with backoff, then held
as failed with its error, visible to admins."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
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
from resolvers.segments.config import SegmentsConfig
from sql.pool import create_pool
from tests.conftest import gql, make_settings, running_client
from tests.dp_data import seed_audience
from tests.jobs_support import enqueue_job, jobs_config, message, queue, receiver, until, worker_process
from tests.personalization_world import add_user, world
from tests.privacy_helpers import sql

pytestmark = pytest.mark.slow


async def _statuses(conn: asyncpg.Connection, job_id: int) -> list[str]:
    rows = await conn.fetch("SELECT status::text FROM pgqueuer_log WHERE job_id = $1 ORDER BY id", job_id)
    return [r["status"] for r in rows]


async def test_a_worker_killed_mid_delivery_leaves_the_job_to_another_that_completes_it_once(
    db_dsn: str, tmp_path: Path
) -> None:
    hold = threading.Event()
    with receiver(hold=hold) as hooks:
        async with world(db_dsn) as conn:
            await add_user(conn, 1, preferred_channel="email", subscribed=("email",))
            pool = await create_pool(db_dsn, min_size=1, max_size=2)
            try:
                assert await queue(pool, [message(1, "email", n) for n in (1, 2, 3)]) == 3
            finally:
                await pool.close()
            config = jobs_config({"email": hooks.url()})
            job_id = await enqueue_job(db_dsn, "outbox.deliver")
            assert job_id is not None
            with worker_process(db_dsn, tmp_path, config) as first:
                # The first worker claimed all three and sent them; the receiver holds the first
                # request open, so the worker has not recorded any outcome yet.
                await until(lambda: len(hooks.received) == 3, "the first worker did not send")
                sending = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'sending'")
                assert sending == 3
                os.killpg(first.pid, signal.SIGKILL)
                await asyncio.to_thread(first.wait, 10)
            hold.set()
            assert await conn.fetchval("SELECT status::text FROM pgqueuer WHERE id = $1", job_id) == "picked"
            with worker_process(db_dsn, tmp_path, config):
                # After the heartbeat timeout the second worker takes the job over; the leases have
                # run out, so it sends the three again, with the same keys, and completes the job.
                await until(
                    lambda: _done(conn, job_id), "the second worker did not complete the job", timeout_s=60
                )
            statuses = await _statuses(conn, job_id)
            assert statuses.count("picked") == 2 and statuses.count("successful") == 1, statuses
            assert statuses[-1] == "successful"
            rows = await conn.fetch("SELECT message_id, status, attempts FROM outbox ORDER BY message_id")
            assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)] * 3
            delivered = hooks.deliveries()
            assert sorted(delivered) == sorted(str(r["message_id"]) for r in rows)  # once each, signed
            assert all(hooks.count(key) == 2 for key in delivered)  # sent twice: at least once


async def _done(conn: asyncpg.Connection, job_id: int) -> bool:
    sent = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'")
    return sent == 3 and "successful" in await _statuses(conn, job_id)


OFFERS_VERSION = PURPOSES["marketing.offers"].version
PARAMS: AudienceParams = params_from(DomainConfig())
CREATE = """mutation($n: String!, $r: JSON!) { createSegment(name: $n, rule: $r) {
  __typename ... on Segment { id } } }"""
UPDATE = """mutation($id: ID!, $r: JSON!) { updateSegment(segmentId: $id, rule: $r) { __typename } }"""


async def _noiseless_segment_counts(dsn: str, segment_id: str) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        q = DPQuery(Template.USERS_BY, Decimal(1), dimensions=("SEGMENT",))
        exact = await templates.run_without_noise(pool, q, replace(PARAMS, segments=(segment_id,)))
    finally:
        await pool.close()
    return {g["keys"][0]: g["count"]["value"] for g in exact["groups"]}


async def test_segment_membership_refreshes_on_schedule_and_the_segment_dimension_follows(
    db_dsn: str, tmp_path: Path, token: Callable[..., str]
) -> None:
    await seed_audience(db_dsn, 1, 120)
    await sql(db_dsn, "UPDATE users SET personalization_level = 'FULL'")
    await sql(
        db_dsn,
        """INSERT INTO consents (user_id, purpose, granted, method, notice_version)
           SELECT user_id, 'marketing.offers', true, 'explicit', $1 FROM users""",
        OFFERS_VERSION,
    )
    # A large world: saving a segment does not refresh its members, the schedule does.
    domain = DomainConfig(segments=SegmentsConfig(refresh_members_on_save=False))
    settings = make_settings(db_dsn, tmp_path / "data", domain=domain)
    async with running_client(settings) as client:
        tok = token(Role.MARKETER, "m1")
        body = await gql(
            client, CREATE, {"n": "frequent", "r": {"attr": "sessions", "op": "gte", "value": 20}}, tok
        )
        seg = body["data"]["createSegment"]["id"]
        members = "SELECT count(*) FROM segment_members WHERE segment_id = $1 AND version = $2"
        assert (await sql(db_dsn, members, int(seg), 1))[0][0] == 0
        assert await _noiseless_segment_counts(db_dsn, seg) == {seg: 0}
        frequent = sum(1 for g in range(1, 121) if g % 40 >= 20)
        config = jobs_config(schedules={"segments_refresh": "* * * * * *"})  # every second
        with worker_process(db_dsn, tmp_path, config):
            await until(
                lambda: _count(db_dsn, members, int(seg), 1, frequent),
                "membership was not refreshed on schedule",
            )
            assert await _noiseless_segment_counts(db_dsn, seg) == {seg: frequent}
            # A new version of the rule: the next scheduled refresh follows it.
            await gql(client, UPDATE, {"id": seg, "r": {"attr": "sessions", "op": "gte", "value": 30}}, tok)
            rarer = sum(1 for g in range(1, 121) if g % 40 >= 30)
            await until(
                lambda: _count(db_dsn, members, int(seg), 2, rarer), "the new version was not refreshed"
            )
            assert await _noiseless_segment_counts(db_dsn, seg) == {seg: rarer}
        runs = await sql(
            db_dsn,
            "SELECT count(*) FROM pgqueuer_log WHERE entrypoint = 'segments.refresh'"
            " AND status = 'successful'",
        )
        assert runs[0][0] >= 2


async def _count(dsn: str, query: str, segment_id: int, version: int, want: int) -> bool:
    return bool((await sql(dsn, query, segment_id, version))[0][0] == want)


JOBS = """query($s: JobStatus) { jobs(status: $s, name: "retention.run") { __typename
  ... on JobsOverview { runs { id name status runs attempts lastError } schedules { name cron } } } }"""


async def test_a_failing_job_is_retried_with_backoff_then_held_with_its_error_for_admins(
    db_dsn: str, tmp_path: Path, token: Callable[..., str], client: httpx.AsyncClient
) -> None:
    config = jobs_config(
        worker={"max_attempts": 2, "retry_initial_s": 0.2},
        schedules={"outbox_deliver": "0 0 1 1 *"},
    )
    config["retention"] = {"lock_timeout_ms": 100}
    blocker = await asyncpg.connect(db_dsn)
    try:
        # Retention needs a lock on events (to create and drop partitions): it cannot get one.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        job_id = await enqueue_job(db_dsn, "retention.run")
        assert await enqueue_job(db_dsn, "retention.run") is None  # one at a time
        with worker_process(db_dsn, tmp_path, config):
            await until(lambda: _held(db_dsn, job_id), "the job was not held as failed", timeout_s=60)
        await tx.rollback()
    finally:
        await blocker.close()
    body = await gql(client, JOBS, {"s": "FAILED"}, token=token(Role.ADMIN, "ops"))
    (run,) = body["data"]["jobs"]["runs"]
    assert (run["id"], run["name"], run["status"]) == (str(job_id), "retention.run", "FAILED")
    assert run["runs"] == 3 and run["attempts"] == 2  # the first run and two retries
    assert run["lastError"].startswith("LockNotAvailableError")
    assert {"name": "outbox.deliver", "cron": "0 0 1 1 *"} in body["data"]["jobs"]["schedules"]
    refused = await gql(client, JOBS, {"s": None}, token=token(Role.ANALYST, "ana"))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await gql(
        client,
        "{ jobs(limit: 0) { ... on InvalidInput { errors { field } } } }",
        token=token(Role.ADMIN, "ops"),
    )
    assert bad["data"]["jobs"]["errors"] == [{"field": "limit"}]


async def _held(dsn: str, job_id: int | None) -> bool:
    rows = await sql(dsn, "SELECT status::text FROM pgqueuer WHERE id = $1", job_id)
    return bool(rows and rows[0][0] == "failed")

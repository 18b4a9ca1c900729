"""The job queue: pgqueuer on the gateway's own PostgreSQL (why pgqueuer: docs/jobs.md).

Every background task is a named job. A schedule (cron, in UTC) only enqueues its job, under a
dedupe key equal to the job's name, so at most one of each is queued or running at a time
whatever the number of workers; the job itself then runs with retries and exponential backoff
(`DatabaseRetryEntrypointExecutor`), is visible in pgqueuer's tables (`gateway jobs`, the
admins' `jobs` query), and survives its worker: a worker killed mid-job stops refreshing the
job's heartbeat, and after `heartbeat_timeout_s` another worker picks the job up and runs it
again. So every job is idempotent. A job that keeps failing is held with status `failed` (with
its last error) until an admin re-queues it.

Job payloads are empty: no job names a person (the rows they work on do, and erasure finds those).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.executors import DatabaseRetryEntrypointExecutor
from pgqueuer.models import Context, Job, Schedule
from pgqueuer.ports import RepositoryPort

from jobs.channel_offers import schedule_channel_offers
from jobs.config import JobsConfig, Schedules, WorkerConfig
from jobs.delivery import deliver_due
from jobs.reminders import schedule_key_dates, schedule_reminders
from jobs.retention import run_retention
from jobs.retrain import retrain_models
from jobs.segments import refresh_segments
from jobs.sinks import Sinks
from resolvers.config import DomainConfig

log = logging.getLogger("gateway.jobs")


@dataclass
class JobEnv:
    """What jobs work with: the worker's pool, the configuration, the sinks and the queue."""

    pool: asyncpg.Pool
    domain: DomainConfig
    jobs: JobsConfig
    sinks: Sinks
    queries: RepositoryPort


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    description: str
    run: Callable[[JobEnv], Awaitable[Any]]
    schedule: Callable[[Schedules], str | None]


async def _segments(env: JobEnv) -> Any:
    return await refresh_segments(env.pool, env.domain)


async def _reminders(env: JobEnv) -> Any:
    counts = await schedule_reminders(env.pool, env.domain)
    key_dates = await schedule_key_dates(env.pool, env.domain)
    if counts.queued or key_dates.queued:
        await enqueue(env.queries, "outbox.deliver")  # send what was just queued, not at the next tick
    return {"reminders": counts, "key_dates": key_dates}


async def _channel_offers(env: JobEnv) -> Any:
    counts = await schedule_channel_offers(env.pool, env.domain, env.jobs.channel_offers.period)
    if counts.queued:
        await enqueue(env.queries, "outbox.deliver")  # send what was just queued, not at the next tick
    return counts


async def _deliver(env: JobEnv) -> Any:
    return await deliver_due(env.pool, env.jobs.delivery, env.sinks)


async def _retention(env: JobEnv) -> Any:
    return await run_retention(
        env.pool, env.domain.retention, env.jobs.retention, env.domain.dp.release_period_s
    )


async def _retrain(env: JobEnv) -> Any:
    return await retrain_models(env.pool, env.domain)


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        "segments.refresh",
        "re-evaluate segment membership (the analysts' SEGMENT dimension)",
        _segments,
        lambda s: s.segments_refresh,
    ),
    JobSpec(
        "reminders.schedule",
        "queue due repurchase and key-date reminders in the outbox, with their decision records",
        _reminders,
        lambda s: s.reminders_schedule,
    ),
    JobSpec(
        "offers.channel",
        "queue each person's first offer for their preferred channel (email, push) in the outbox",
        _channel_offers,
        lambda s: s.channel_offers,
    ),
    JobSpec(
        "outbox.deliver",
        "send due outbox messages to their channels' sinks",
        _deliver,
        lambda s: s.outbox_deliver,
    ),
    JobSpec(
        "retention.run",
        "delete records past their retention period; create and drop time partitions",
        _retention,
        lambda s: s.retention,
    ),
    JobSpec(
        "models.retrain", "retrain the purchase-propensity model (DP)", _retrain, lambda s: s.models_retrain
    ),
)
BY_NAME = {j.name: j for j in JOBS}


async def enqueue(queries: RepositoryPort, name: str, *, dedupe: bool = True) -> int | None:
    """Queue job `name` now; with `dedupe`, nothing happens (None) while one is queued or running."""
    if name not in BY_NAME:
        raise ValueError(f"no job named {name!r}; jobs: {', '.join(BY_NAME)}")
    ids = await queries.enqueue(name, None, dedupe_key=name if dedupe else None, on_conflict="skip")
    return int(ids[0]) if ids and ids[0] is not None else None


def _plain(result: Any) -> Any:
    if is_dataclass(result) and not isinstance(result, type):
        return {k: _plain(v) for k, v in asdict(result).items()}
    if isinstance(result, dict):
        return {str(k): _plain(v) for k, v in result.items()}
    if isinstance(result, list | tuple):
        return [_plain(v) for v in result]
    if isinstance(result, int | float | str | bool) or result is None:
        return result
    return str(result)


class JobError(Exception):
    """A job's failure, named by the error that caused it (what the job list shows)."""


async def _run(spec: JobSpec, job: Job, context: Context) -> None:
    env = context.resources["env"]
    assert isinstance(env, JobEnv)
    started = time.monotonic()
    try:
        result = await spec.run(env)
    except Exception as exc:
        log.warning("job failed", extra={"job": spec.name}, exc_info=True)
        raise JobError(f"{type(exc).__name__}: {exc}"[:1000]) from exc
    log.info(
        "job finished",
        extra={
            "job": spec.name,
            "result": _plain(result),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )


async def _tick(queries: RepositoryPort, name: str, schedule: Schedule) -> None:
    await enqueue(queries, name)


def _executor(config: WorkerConfig) -> Callable[[Any], DatabaseRetryEntrypointExecutor]:
    def make(parameters: Any) -> DatabaseRetryEntrypointExecutor:
        return DatabaseRetryEntrypointExecutor(
            parameters=parameters,
            max_attempts=config.max_attempts,
            initial_delay=timedelta(seconds=config.retry_initial_s),
            max_delay=timedelta(seconds=config.retry_max_s),
        )

    return make


def build_queue(
    queue_pool: asyncpg.Pool, pool: asyncpg.Pool, domain: DomainConfig, config: JobsConfig, sinks: Sinks
) -> PgQueuer:
    """pgqueuer with every job registered and every configured schedule. `queue_pool` is pgqueuer's
    own (plain asyncpg, no JSON codecs: it passes JSON as text); `pool` is the jobs' pool."""
    pgq = PgQueuer.from_asyncpg_pool(queue_pool)
    assert pgq.queries is not None
    # The mapping pgqueuer hands every job in its context.
    pgq.resources["env"] = JobEnv(pool, domain, config, sinks, pgq.queries)
    for spec in JOBS:
        pgq.entrypoint(
            spec.name, accepts_context=True, on_failure="hold", executor_factory=_executor(config.worker)
        )(functools.partial(_run, spec))
        expression = spec.schedule(config.schedules)
        if expression is not None:
            pgq.schedule(f"tick:{spec.name}", expression, clean_old=True, accepts_context=False)(
                functools.partial(_tick, pgq.queries, spec.name)
            )
    return pgq

"""`gateway worker`: run the jobs until SIGINT or SIGTERM.

The first signal stops taking new jobs and lets running ones finish (at most
`shutdown_grace_s`; a job cut short is run again later: every job is idempotent); a second
signal stops at once. Two pools: pgqueuer's own (its LISTEN connection, dequeues, heartbeats),
so a long job never starves the heartbeat that tells other workers it is alive, and the jobs'."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import httpx

from jobs.config import JobsConfig
from jobs.queue import build_queue
from jobs.sinks import Sinks
from resolvers.config import DomainConfig
from sql.pool import create_pool

log = logging.getLogger("gateway.jobs")
SHUTDOWN_GRACE_S = 30.0
APPLICATION_NAME = "gateway-worker"


async def run_worker(
    dsn: str, config: JobsConfig, domain: DomainConfig, *, parent_pid: int | None = None
) -> None:
    """Run until a signal; with `parent_pid`, also stop when that process is gone (a worker
    started by `gateway serve --worker` never outlives the server, even one killed outright)."""
    worker = config.worker
    queue_pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=4, server_settings={"application_name": f"{APPLICATION_NAME}-queue"}
    )
    pool = await create_pool(
        dsn,
        min_size=1,
        max_size=worker.pool_max_size,
        statement_timeout_ms=worker.statement_timeout_ms,
        application_name=APPLICATION_NAME,
    )
    try:
        async with httpx.AsyncClient() as http:
            pgq = build_queue(queue_pool, pool, domain, config, Sinks.from_config(config.delivery, http))
            batch = max(1, worker.concurrency // 2)
            run = asyncio.create_task(
                pgq.run(
                    dequeue_timeout=timedelta(seconds=5),
                    batch_size=batch,
                    max_concurrent_tasks=2 * batch,
                    heartbeat_timeout=timedelta(seconds=worker.heartbeat_timeout_s),
                )
            )
            stop = _on_signals(pgq.shutdown, run)
            watch = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
            log.info("worker started", extra={"job": "worker"})
            try:
                await run
            except asyncio.CancelledError:
                log.warning("worker stopped without waiting for running jobs", extra={"job": "worker"})
            finally:
                if watch is not None:
                    watch.cancel()
    finally:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await pool.close()
        await queue_pool.close()
    log.info("worker stopped", extra={"job": "worker"})


async def _watch_parent(parent_pid: int, stop: Callable[[], None]) -> None:
    # No event tells a process that its parent exited: poll.
    while os.getppid() == parent_pid:  # noqa: ASYNC110
        await asyncio.sleep(1)
    log.warning("the process that started the worker is gone: stopping", extra={"job": "worker"})
    stop()


def _on_signals(shutdown: asyncio.Event, run: asyncio.Task[None]) -> Callable[[], None]:
    """First call: stop taking jobs, wait for running ones (bounded); second call: stop now."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if shutdown.is_set():
            run.cancel()  # the second signal: do not wait
            return
        log.info("worker stopping: waiting for running jobs", extra={"job": "worker"})
        shutdown.set()
        loop.call_later(SHUTDOWN_GRACE_S, run.cancel)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    return stop

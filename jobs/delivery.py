"""The delivery job: claim due messages, send each to its channel's sink, record the outcome.

At least once: a message is marked sent only after its sink confirmed it; a worker killed
between the send and that mark leaves the message claimed, and when its lease runs out the next
claim sends it again with the same idempotency key (the receiver keeps the first). Consent,
subscription and preferred channel are checked again at every claim (jobs/delivery_rules.py), on
top of the cancellation the withdrawing write itself makes (migration 0320).

Each round is audited: the accounts read to decide (essential.service) and every message handed
to a sink (its purpose, action `deliver`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from jobs.config import DeliveryConfig
from jobs.delivery_rules import decide
from jobs.outbox import Claimed, claim, record_results
from jobs.sinks import SendResult, Sinks
from privacy.principal import Principal, Role

PRINCIPAL = Principal(Role.ADMIN, "worker:outbox.deliver")


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    waiting: int = 0
    rounds: int = 0


async def _send_all(claimed: list[Claimed], sinks: Sinks, parallel: int) -> list[tuple[Claimed, SendResult]]:
    gate = asyncio.Semaphore(parallel)

    async def one(c: Claimed) -> tuple[Claimed, SendResult]:
        async with gate:
            try:
                return c, await sinks.for_channel(c.outgoing.channel).send(c.outgoing)
            except Exception as exc:  # a sink bug must not lose the others' outcomes
                return c, SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])

    return list(await asyncio.gather(*(one(c) for c in claimed)))


async def deliver_due(pool: asyncpg.Pool, config: DeliveryConfig, sinks: Sinks) -> DeliveryCounts:
    """Claim and send rounds until nothing is due (or the run budget is spent)."""
    deadline = time.monotonic() + config.run_budget_s
    sent = failed = cancelled = waiting = rounds = 0
    while time.monotonic() < deadline:
        round_, guard = await claim(
            pool, PRINCIPAL, f"job-deliver-{uuid.uuid4()}", config, datetime.now(UTC), decide
        )
        rounds += 1
        for c in round_.claimed:
            guard.record([c.outgoing.user_id], c.purpose, ("outbox",), "deliver")
        cancelled += round_.cancelled
        waiting += round_.waiting
        results = await _send_all(round_.claimed, sinks, config.parallel_sends)
        await record_results(guard, config, results)
        await guard.flush()
        sent += sum(r.ok for _, r in results)
        failed += sum(not r.ok for _, r in results)
        if not round_.people:
            break  # nothing due, or every due person is being handled by another claimer
    return DeliveryCounts(sent, failed, cancelled, waiting, rounds)

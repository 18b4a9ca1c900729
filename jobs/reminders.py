"""Reminder scheduling: the one place the worker calls into the reminder rules.

For each person who could get a reminder now (a preferred channel they are subscribed to), the
same rules as `viewer { reminders }` (resolvers/reminders/schema.py): `reminder_purpose` decides from
their consent snapshot whether the channel's purpose allows reading their purchase history at
all (if not, nothing about them is read), then `decide_reminders` makes the decision records.
Each due reminder becomes an outbox message written with its record (jobs/outbox.py); the dedupe
key (item and purchase time) makes scheduling the same reminder twice a no-op, so the job can
run as often as it likes.

This adapter is kept small on purpose: when the reminder rules move, only this module follows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from jobs.outbox import NewMessage, queue_messages
from privacy.consent import ConsentSnapshot
from privacy.guard import Guard
from privacy.principal import Principal, Role
from privacy.purposes import ESSENTIAL, Source
from privacy.snapshots import load_snapshots
from resolvers.config import DomainConfig
from resolvers.model.catalog import CATALOG
from resolvers.model.signals import parse_signals
from resolvers.reminders.schema import decide_reminders, reminder_purpose
from sql import load_queries

Q = load_queries()
PRINCIPAL = Principal(Role.ADMIN, "worker:reminders.schedule")
BATCH_USERS = 2000


@dataclass(frozen=True, slots=True)
class ReminderCounts:
    people: int = 0  # with a preferred, subscribed channel
    allowed: int = 0  # whose consent allows reminders on it (their purchases were read)
    queued: int = 0  # new messages (a reminder already queued or sent is not queued again)


async def schedule_reminders(
    pool: asyncpg.Pool, config: DomainConfig, *, batch_users: int = BATCH_USERS
) -> ReminderCounts:
    catalog = await CATALOG.get(pool, config.personalization.catalog_ttl_s)
    people = allowed = queued = 0
    after = 0
    while True:
        rows = await pool.fetch(Q.outbox_user_ids_for_reminders, after, batch_users)
        if not rows:
            break
        after = rows[-1]["user_id"]
        guard = Guard(pool, PRINCIPAL, f"job-reminders-{uuid.uuid4()}", ConsentSnapshot(user_id=None))
        snapshots = await load_snapshots(pool, [r["user_id"] for r in rows], gpc=False)
        purposes: dict[int, tuple[str, str]] = {}
        for r in rows:
            uid, channel = r["user_id"], r["preferred_channel"]
            guard.record(ESSENTIAL, ("users", "user_channels"), uid)
            snapshot = snapshots.get(uid)
            purpose = reminder_purpose(snapshot, channel, r["subscribed"]) if snapshot else None
            if purpose is not None:
                purposes[uid] = (channel, purpose)
                guard.record(purpose, ("user_signals",), uid)
        signals = (
            {s["user_id"]: s for s in await pool.fetch(Q.segment_refresh_signals, list(purposes))}
            if purposes
            else {}
        )
        now = datetime.now(UTC)
        messages: list[NewMessage] = []
        for uid, (channel, purpose) in purposes.items():
            history = parse_signals(signals.get(uid))
            for item_id, record in decide_reminders(history, catalog, snapshots[uid], channel, purpose, now):
                bought_at = history.purchased_items[item_id]
                messages.append(
                    NewMessage(
                        user_id=uid,
                        kind="reminder",
                        channel=channel,
                        purpose=purpose,
                        source=Source.BEHAVIOURAL,
                        dedupe_key=f"reminder:{item_id}:{bought_at.astimezone(UTC).isoformat()}",
                        text=record.summary,
                        record=record,
                    )
                )
        queued += await queue_messages(pool, messages)
        await guard.flush()
        people += len(rows)
        allowed += len(purposes)
    return ReminderCounts(people, allowed, queued)

"""Reminder scheduling: the one place the worker calls into the reminder rules.

For each person who could get a reminder now (a preferred channel they are subscribed to), the
same rules as `viewer { reminders }` (resolvers/reminders/): `reminder_purpose` decides from
their consent snapshot whether the channel's purpose allows reading their purchase history at
all (if not, nothing about them is read), then the rulebook built from their activity and their
own controls and `decide_reminders` make the decision records. Each due reminder becomes an
outbox message written with its record (jobs/outbox.py); the dedupe key (item and purchase time)
makes scheduling the same reminder twice a no-op, so the job can run as often as it likes.

Key dates (`schedule_key_dates`, run by the same job): for the same people, the dates they stated
(birthday, anniversary, name day; day and month only) are read under the channel's purpose on
stated data, and `decide_key_dates` (resolvers/reminders/key_dates.py) makes the messages due in
the person's own time zone, each with its record; the dedupe key (date and occurrence) sends one
per date and year.

This adapter is kept small on purpose: when the reminder rules move, only this module follows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from jobs.outbox import NewMessage, queue_messages
from privacy.i18n import DEFAULT, Language, localize
from privacy.principal import Principal, Role
from privacy.purposes import ESSENTIAL, Source
from privacy.snapshots import BatchGuard
from privacy.vocabulary import Channel
from resolvers.config import DomainConfig
from resolvers.model.controls import Controls
from resolvers.model.reference import catalog as load_catalog
from resolvers.model.rulebook import Rulebook
from resolvers.model.signals import parse_activity
from resolvers.model.user import ACTIVITY_TABLES
from resolvers.reminders.key_dates import (
    READ_FIELDS,
    days_before,
    decide_key_dates,
    local_today,
    parse_key_dates,
)
from resolvers.reminders.rules import decide_reminders, reminder_purpose
from sql import load_queries

Q = load_queries()
PRINCIPAL = Principal(Role.ADMIN, "worker:reminders.schedule")
KEY_DATES_PRINCIPAL = Principal(Role.ADMIN, "worker:reminders.key_dates")
ACCOUNT_TABLES = ("users", "user_channels", "user_controls")
BATCH_USERS = 5000


def stored_language(row: asyncpg.Record) -> Language:
    """The language a message is written in: the person's stored choice, else English (a job has
    no Accept-Language to negotiate from)."""
    try:
        return Language(row["language"]) if row["language"] else DEFAULT
    except ValueError:  # a language this version no longer offers
        return DEFAULT


@dataclass(frozen=True, slots=True)
class ReminderCounts:
    people: int = 0  # with a preferred, subscribed channel
    allowed: int = 0  # whose consent allows reminders on it (their purchases were read)
    queued: int = 0  # new messages (a reminder already queued or sent is not queued again)


async def schedule_reminders(
    pool: asyncpg.Pool, config: DomainConfig, *, batch_users: int = BATCH_USERS
) -> ReminderCounts:
    catalog = await load_catalog(pool, config.model.reference_ttl_s)
    people = allowed = queued = 0
    async for guard in BatchGuard.pages(
        pool, PRINCIPAL, lambda: f"job-reminders-{uuid.uuid4()}", batch_users
    ):
        ids = guard.user_ids
        rows = await guard.fetch(
            Q.outbox_reminder_candidates, ids, purpose=ESSENTIAL, source=Source.ACCOUNT, tables=ACCOUNT_TABLES
        )
        by_purpose: dict[str, list[int]] = defaultdict(list)
        channels: dict[int, Channel] = {}
        for r in rows:
            uid, channel = r["user_id"], Channel(r["preferred_channel"])
            purpose = reminder_purpose(guard.snapshots[uid], channel, frozenset({channel}))
            if purpose is not None:
                by_purpose[purpose].append(uid)
                channels[uid] = channel
        accounts = {r["user_id"]: r for r in rows}
        now = datetime.now(UTC)
        messages: list[NewMessage] = []
        for purpose, uids in by_purpose.items():
            activity = await guard.fetch(
                Q.users_activity, uids, purpose=purpose, source=Source.BEHAVIOURAL, tables=ACTIVITY_TABLES
            )
            for act in activity:
                uid = act["user_id"]
                signals = parse_activity(act)
                account = accounts[uid]
                controls = Controls.of(
                    account["control_kinds"], account["control_targets"], account["control_created"]
                )
                rules = Rulebook.build(catalog, signals, controls, now)
                for item_id, record in decide_reminders(
                    signals, rules, guard.snapshots[uid], channels[uid], purpose, now
                ):
                    bought_at = signals.purchased_items[item_id]
                    messages.append(
                        NewMessage(
                            user_id=uid,
                            kind="reminder",
                            channel=channels[uid].value,
                            purpose=purpose,
                            source=Source.BEHAVIOURAL,
                            dedupe_key=f"reminder:{item_id}:{bought_at.astimezone(UTC).isoformat()}",
                            text=localize(record.summary, stored_language(account)),
                            record=record,
                            language=stored_language(account),
                        )
                    )
        queued += await queue_messages(guard, messages)
        await guard.flush()
        people += len(rows)
        allowed += len(channels)
    return ReminderCounts(people, allowed, queued)


async def schedule_key_dates(
    pool: asyncpg.Pool, config: DomainConfig, *, batch_users: int = BATCH_USERS, now: datetime | None = None
) -> ReminderCounts:
    """Queue the key-date reminders due now (see the module doc); `now` for tests."""
    people = allowed = queued = 0
    at = now or datetime.now(UTC)
    page_id = lambda: f"job-key-dates-{uuid.uuid4()}"  # noqa: E731
    async for guard in BatchGuard.pages(pool, KEY_DATES_PRINCIPAL, page_id, batch_users):
        ids = guard.user_ids
        rows = await guard.fetch(
            Q.outbox_reminder_candidates, ids, purpose=ESSENTIAL, source=Source.ACCOUNT, tables=ACCOUNT_TABLES
        )
        by_purpose: dict[str, list[int]] = defaultdict(list)
        channels: dict[int, Channel] = {}
        zones: dict[int, str] = {}
        languages = {r["user_id"]: stored_language(r) for r in rows}
        for r in rows:
            uid, channel = r["user_id"], Channel(r["preferred_channel"])
            purpose = reminder_purpose(guard.snapshots[uid], channel, frozenset({channel}), Source.STATED)
            if purpose is not None:
                by_purpose[purpose].append(uid)
                channels[uid] = channel
                zones[uid] = r["time_zone"]
        messages: list[NewMessage] = []
        for purpose, uids in by_purpose.items():
            stated = await guard.fetch(
                Q.users_key_dates,
                uids,
                list(READ_FIELDS),
                purpose=purpose,
                source=Source.STATED,
                tables=("profile_fields",),
            )
            per_user: dict[int, list[tuple[str, str]]] = defaultdict(list)
            for row in stated:
                per_user[row["user_id"]].append((row["field"], row["value"]))
            for uid, fields in per_user.items():
                today = local_today(at, zones[uid])
                for m in decide_key_dates(
                    parse_key_dates(fields),
                    guard.snapshots[uid],
                    channels[uid],
                    purpose,
                    today,
                    at,
                    config.key_dates,
                    days_before(fields, config.key_dates),
                ):
                    messages.append(
                        NewMessage(
                            user_id=uid,
                            kind="key_date",
                            channel=channels[uid].value,
                            purpose=purpose,
                            source=Source.STATED,
                            dedupe_key=m.dedupe_key,
                            text=m.text_in(languages[uid]),
                            record=m.record,
                            language=languages[uid],
                        )
                    )
        queued += await queue_messages(guard, messages)
        await guard.flush()
        people += len(rows)
        allowed += len(channels)
    return ReminderCounts(people, allowed, queued)

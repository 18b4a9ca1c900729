"""The notification outbox end to end on a real PostgreSQL: reminders scheduled by the job (with
their decision records, in the same statement), delivered to a local webhook once, signed, on the
preferred channel only; cancelled by an unsubscribe, a withdrawal, a level change or an erasure
between scheduling and delivery; deferred by quiet hours in the person's time zone; and the
per-person cap across channels holding under two deliverers running at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from jobs.config import DeliveryConfig
from jobs.delivery import deliver_due
from jobs.outbox import NewMessage
from jobs.reminders import schedule_reminders
from jobs.sinks import Sinks, signature, verify
from privacy.purposes import Source
from resolvers.config import DomainConfig
from sql.pool import create_pool
from tests.conftest import gql
from tests.jobs_support import WEBHOOK_SECRET, Receiver, jobs_config, message, queue, receiver
from tests.personalization_world import add_user, set_signals, world

COFFEE = 20  # consumable, 30-day cycle: bought 40 days ago, it is due


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as rec:
        yield rec


def delivery_config(rec: Receiver, **overrides: Any) -> DeliveryConfig:
    raw = jobs_config({"email": rec.url("/email"), "push": rec.url("/push")}, delivery=overrides)
    return DeliveryConfig.model_validate(raw["delivery"])


@asynccontextmanager
async def pool_for(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, min_size=1, max_size=4, application_name="test-worker")
    try:
        yield pool
    finally:
        await pool.close()


async def deliver(pool: asyncpg.Pool, config: DeliveryConfig) -> Any:
    async with httpx.AsyncClient() as http:
        return await deliver_due(pool, config, Sinks.from_config(config, http))


async def outbox(conn: asyncpg.Connection) -> dict[int, list[asyncpg.Record]]:
    rows = await conn.fetch("SELECT * FROM outbox ORDER BY user_id, created_at")
    out: dict[int, list[asyncpg.Record]] = {}
    for r in rows:
        out.setdefault(r["user_id"], []).append(r)
    return out


async def test_a_reminder_is_delivered_once_signed_on_the_preferred_channel(
    db_dsn: str, hooks: Receiver
) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        # Subscribed to email and push, prefers push: the reminder goes to push only.
        await add_user(conn, 1, preferred_channel="push", subscribed=("email", "push"))
        await set_signals(conn, 1, purchased={COFFEE: 40})
        counts = await schedule_reminders(pool, DomainConfig())
        assert (counts.people, counts.allowed, counts.queued) == (1, 1, 1)
        assert (await schedule_reminders(pool, DomainConfig())).queued == 0  # idempotent
        (row,) = (await outbox(conn))[1]
        assert (row["channel"], row["kind"], row["status"]) == ("push", "reminder", "queued")
        # The decision record that made it was written with it, and the message's why is its rendering.
        record = await conn.fetchval(
            "SELECT record FROM decisions WHERE user_id = 1 AND decision_id = $1", row["decision_id"]
        )
        assert record["subject_kind"] == "reminder" and record["subject_id"] == str(COFFEE)
        assert row["message"]["why"]["summary"] == record["summary"]

        config = delivery_config(hooks)
        sent = await deliver(pool, config)
        assert sent.sent == 1
        assert (await deliver(pool, config)).sent == 0  # nothing left: no second delivery
        assert len(hooks.received) == 1
        got = hooks.received[0]
        assert got.path == "/push" and got.signed and got.key == str(row["message_id"])
        assert got.body["idempotencyKey"] == str(row["message_id"]) and got.body["userId"] == "1"
        why = got.body["why"]
        assert why["decisionId"] == str(row["decision_id"])
        assert [r["code"] for r in why["reasons"]] == ["REPURCHASE_DUE"]
        assert why["purposes"] == ["marketing.communications.push"]
        assert "Coffee beans" in got.body["text"]
        status = await conn.fetchrow("SELECT status, sent_at, attempts FROM outbox WHERE user_id = 1")
        assert status["status"] == "sent" and status["sent_at"] is not None and status["attempts"] == 1
        # The worker's reads and the delivery itself are in the audit log.
        audit = await conn.fetch(
            "SELECT DISTINCT principal_id, purpose, action FROM audit_log WHERE subject_user_id = 1"
        )
        assert ("worker:outbox.deliver", "marketing.communications.push", "deliver") in {
            tuple(a) for a in audit
        }
        assert ("worker:reminders.schedule", "marketing.communications.push", "read") in {
            tuple(a) for a in audit
        }


async def test_a_stop_reminders_control_from_a_why_is_respected_by_the_scheduler(
    db_dsn: str, client: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        for uid in (40, 41):
            await add_user(conn, uid, preferred_channel="email", subscribed=("email",))
            await set_signals(conn, uid, purchased={COFFEE: 40})
        body = await gql(
            client,
            "mutation($t: String!) { applyControl(kind: STOP_REMINDERS, target: $t) { __typename } }",
            {"t": f"item:{COFFEE}"},
            token=token(sub=41),
        )
        assert "errors" not in body, body
        assert (await schedule_reminders(pool, DomainConfig())).queued == 1
        (row,) = await conn.fetch("SELECT user_id, message FROM outbox")
        assert row["user_id"] == 40
        stop = [c for c in row["message"]["why"]["controls"] if c["kind"] == "STOP_REMINDERS"]
        assert stop == [{"kind": "STOP_REMINDERS", "label": "Stop reminders for this item", "purpose": None,
                         "target": f"item:{COFFEE}"}]  # fmt: skip


def test_the_signature_covers_timestamp_and_body() -> None:
    body = b'{"idempotencyKey":"k"}'
    secret = WEBHOOK_SECRET.encode()
    now = 1_800_000_000
    signed = signature(secret, now, body)
    assert verify(secret, str(now), signed, body, now + 10)
    assert not verify(secret, str(now), signed, body + b" ", now)  # tampered body
    assert not verify(b"another secret" * 3, str(now), signed, body, now)  # wrong secret
    assert not verify(secret, str(now + 1), signed, body, now)  # another timestamp
    assert not verify(secret, str(now), signed, body, now + 301)  # replayed later


async def test_unsubscribe_withdrawal_level_and_erasure_cancel_what_is_queued(
    db_dsn: str, client: httpx.AsyncClient, token: Callable[..., str], hooks: Receiver
) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        for uid in (2, 3, 4, 5, 6):
            await add_user(conn, uid, preferred_channel="email", subscribed=("email",))
            await set_signals(conn, uid, purchased={COFFEE: 40})
        assert (await schedule_reminders(pool, DomainConfig())).queued == 5

        async def as_user(uid: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            body = await gql(client, query, variables, token=token(sub=uid))
            assert "errors" not in body, body
            return body

        await as_user(2, "mutation { setChannelSubscription(channel: EMAIL, subscribed: false) { channel } }")
        email = "marketing.communications.email"
        await as_user(
            3,
            "mutation($p: String!) { setConsent(purpose: $p, granted: false) { __typename } }",
            {"p": email},
        )
        await as_user(4, "mutation { setPreferredChannel(channel: PUSH) { channel } }")
        await as_user(5, "mutation { setPersonalizationLevel(level: BASIC) { __typename } }")
        await as_user(6, "mutation { eraseMyData(confirm: true) { __typename } }")

        # Cancelled in the transaction of the write that withdrew the permission.
        rows = {uid: rs[0] for uid, rs in (await outbox(conn)).items()}
        assert 6 not in rows  # erased with the account
        assert (rows[2]["status"], rows[2]["status_reason"]) == ("cancelled", "unsubscribed from email")
        assert rows[3]["status"] == "cancelled"
        assert rows[3]["status_reason"] == "consent withdrawn for marketing.communications.email"
        assert (rows[4]["status"], rows[4]["status_reason"]) == (
            "cancelled",
            "no longer your preferred channel",
        )
        # No trigger knows what a level means; the delivery re-checks the whole consent snapshot.
        assert rows[5]["status"] == "queued"
        counts = await deliver(pool, delivery_config(hooks))
        assert (counts.sent, counts.cancelled) == (0, 1)
        row5 = await conn.fetchrow("SELECT status, status_reason FROM outbox WHERE user_id = 5")
        assert row5["status"] == "cancelled" and "BASIC" in row5["status_reason"]
        assert hooks.received == []


def _quiet_window_around(now: datetime, zone: str) -> tuple[time, time]:
    local = now.astimezone(ZoneInfo(zone))
    return (local - timedelta(hours=1)).time().replace(microsecond=0), (
        local + timedelta(hours=1)
    ).time().replace(second=0, microsecond=0)


async def test_quiet_hours_in_the_persons_time_zone_defer_themessage(
    db_dsn: str, client: httpx.AsyncClient, token: Callable[..., str], hooks: Receiver
) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        for uid in (7, 8):
            await add_user(conn, uid, preferred_channel="email", subscribed=("email",))
            await set_signals(conn, uid, purchased={COFFEE: 40})
        body = await gql(
            client,
            "mutation($z: String!) { setTimeZone(timeZone: $z) { ... on TimeZoneSetting { timeZone } } }",
            {"z": "Asia/Tokyo"},
            token=token(sub=7),
        )
        assert body["data"]["setTimeZone"] == {"timeZone": "Asia/Tokyo"}
        await conn.execute("UPDATE users SET time_zone = 'America/New_York' WHERE user_id = 8")
        await schedule_reminders(pool, DomainConfig())
        now = datetime.now(UTC)
        start, end = _quiet_window_around(now, "Asia/Tokyo")  # quiet in Tokyo now, not in New York
        counts = await deliver(
            pool, delivery_config(hooks, quiet_start=start.isoformat(), quiet_end=end.isoformat())
        )
        assert (counts.sent, counts.waiting) == (1, 1)
        assert [r.body["userId"] for r in hooks.received] == ["8"]
        waiting = await conn.fetchrow(
            "SELECT status, status_reason, not_before FROM outbox WHERE user_id = 7"
        )
        assert (waiting["status"], waiting["status_reason"]) == ("queued", "quiet hours")
        tokyo = now.astimezone(ZoneInfo("Asia/Tokyo"))
        day = tokyo.date() + timedelta(days=1) if end < start and tokyo.time() >= start else tokyo.date()
        expected = datetime.combine(day, end, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)
        assert abs((waiting["not_before"] - expected).total_seconds()) < 1
        # Once the quiet hours are over (here: no quiet hours any more), it goes out.
        assert (await deliver(pool, delivery_config(hooks))).sent == 0  # not before its time
        await conn.execute("UPDATE outbox SET not_before = now() WHERE user_id = 7")
        assert (await deliver(pool, delivery_config(hooks))).sent == 1


async def test_the_per_person_cap_holds_across_channels_under_two_workers(
    db_dsn: str, hooks: Receiver
) -> None:
    users = list(range(100, 112))
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool_a, pool_for(db_dsn) as pool_b:
        for uid in users:
            await add_user(conn, uid, preferred_channel="email", subscribed=("email", "push"))
        # Two email messages each are delivered first.
        await queue(pool_a, [message(uid, "email", n) for uid in users for n in (1, 2)])
        config = delivery_config(hooks, batch=5)
        assert (await deliver(pool_a, config)).sent == 2 * len(users)
        # Then everyone switches to push, and six push messages each wait.
        await conn.execute("UPDATE users SET preferred_channel = 'push' WHERE user_id = ANY($1)", users)
        await queue(pool_a, [message(uid, "push", n) for uid in users for n in range(3, 9)])
        # Two deliverers (own pools, so own connections) claim small batches at the same time.
        a, b = await asyncio.gather(deliver(pool_a, config), deliver(pool_b, config))
        assert a.sent + b.sent == len(users)  # one push each: 2 email + 1 push = the cap of 3
        per_user: dict[str, int] = {}
        for r in hooks.deliveries().values():
            per_user[r.body["userId"]] = per_user.get(r.body["userId"], 0) + 1
        assert per_user == {str(u): 3 for u in users}
        assert sum(hooks.count(k) for k in hooks.deliveries()) == 3 * len(users)  # nothing sent twice
        waiting = await conn.fetch(
            "SELECT user_id, status_reason, not_before FROM outbox WHERE status = 'queued' ORDER BY user_id"
        )
        assert len(waiting) == 5 * len(users)
        assert {w["status_reason"] for w in waiting} == {"message cap reached"}
        assert min(w["not_before"] for w in waiting) > datetime.now(UTC) + timedelta(hours=23)


async def test_failed_sends_are_retried_then_marked_failed(db_dsn: str) -> None:
    answers = {"first": True}

    def respond(got: Any) -> int:
        if got.body["userId"] == "21":
            return 400  # refused for good
        if answers["first"]:
            answers["first"] = False
            return 503  # a transient failure
        return 200

    with receiver(respond=respond) as rec:
        async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
            for uid in (20, 21):
                await add_user(conn, uid, preferred_channel="email", subscribed=("email",))
                await set_signals(conn, uid, purchased={COFFEE: 40})
            await schedule_reminders(pool, DomainConfig())
            config = delivery_config(rec)
            await deliver(pool, config)
            waiting = await conn.fetchrow(
                "SELECT status, last_error, not_before FROM outbox WHERE user_id = 20"
            )
            assert (waiting["status"], waiting["last_error"]) == ("queued", "HTTP 503")
            assert waiting["not_before"] > datetime.now(UTC)  # backoff
            await conn.execute("UPDATE outbox SET not_before = now() WHERE user_id = 20")  # skip the wait
            await deliver(pool, config)
            rows = {r["user_id"]: r for r in await conn.fetch("SELECT * FROM outbox")}
            assert (rows[20]["status"], rows[20]["attempts"]) == ("sent", 2)
            assert (rows[21]["status"], rows[21]["last_error"]) == ("failed", "HTTP 400")
            assert len(rec.deliveries()) == 2 and rec.count(str(rows[20]["message_id"])) == 2


async def test_queueing_for_an_erased_person_writes_nothing(db_dsn: str) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        await add_user(conn, 30, preferred_channel="email", subscribed=("email",))
        await conn.execute("SELECT erase_user(30)")
        assert await queue(pool, [message(30, "email", 1)]) == 0
        assert await conn.fetchval("SELECT count(*) FROM decisions WHERE user_id = 30") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_message_kind_is_checked(db_dsn: str) -> None:
    with pytest.raises(ValueError, match="unknown message kind"):
        NewMessage(1, "newsletter", "email", "p", Source.ACCOUNT, "k", "t", message(1, "email", 1).record)
    assert uuid.UUID(str(message(1, "email", 1).message_id))

"""Key dates over HTTP and through the reminder job on a real PostgreSQL: a birthday (day and
month only) asked at the profile stage with its purpose and benefit produces a reminder N days
before on the preferred channel, in the outbox with its decision record, none on an unsubscribed
channel or without consent; a minor gets no offer; the year is never stored; a one-year
birth-year range is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from jobs.reminders import schedule_key_dates
from privacy.i18n import Language, format_day_month
from privacy.purposes import OFFERS
from resolvers.config import DomainConfig
from resolvers.reminders.key_dates import KeyDate
from sql.pool import create_pool
from tests.jobs_support import Receiver, receiver
from tests.personalization_world import add_user, world
from tests.privacy_helpers import call
from tests.test_outbox import deliver, delivery_config
from tests.test_privacy_profile import PROMPTS, UPDATE
from tests.world import grant

ADULT, MINOR, UNSUBSCRIBED, NONE_LEVEL = 40, 41, 42, 43
REMINDERS = """{ viewer { keyDateReminders { kind on channel text offer
  why { summary signalSources purposes matchedCriteria reasons { code } controls { kind purpose } } } } }"""


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        await add_user(c, ADULT, preferred_channel="push", subscribed=("push",))
        await add_user(c, MINOR, preferred_channel="push", subscribed=("push",), is_minor=True)
        # prefers push but is subscribed to email only: nothing may go anywhere
        await add_user(c, UNSUBSCRIBED, preferred_channel="push", subscribed=("email",))
        await add_user(c, NONE_LEVEL, preferred_channel="push", subscribed=("push",))
        yield c


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(db_dsn, min_size=1, max_size=2, application_name="test-key-dates")
    try:
        yield p
    finally:
        await p.close()


def mm_dd(d: date) -> str:
    return d.strftime("%m-%d")


async def give(client: httpx.AsyncClient, tok: str, field: str, value: str) -> dict[str, Any]:
    body = await call(
        client, UPDATE, {"s": "PERSONALIZATION", "f": [{"field": field, "value": value}]}, token=tok
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updateProfile"]
    return result


async def test_a_birthday_is_asked_with_purpose_and_benefit_and_stored_without_a_year(
    client: httpx.AsyncClient, token: Callable[..., str], conn: asyncpg.Connection
) -> None:
    tok = token("user", ADULT)
    prompts = (await call(client, PROMPTS, {"s": "PERSONALIZATION"}, token=tok))["data"]["viewer"][
        "profilePrompts"
    ]
    birthday = next(p for p in prompts if p["field"] == "birthday")
    assert "never the year" in birthday["why"] and "reminder" in birthday["benefit"]
    assert birthday["purpose"] == "personalize.content"
    assert {"anniversary", "name_day"} <= {p["field"] for p in prompts}

    for value, needle in (
        ("1990-03-14", "day and month only"),
        ("14.03.1990", "day and month only"),
        ("03-14-1990", "day and month only"),
        ("02-30", "not a day of the year"),
        ("13-01", "not a day of the year"),
        ("3-14", "day and month only"),
    ):
        result = await give(client, tok, "birthday", value)
        assert result["__typename"] == "InvalidInput", value
        assert result["errors"][0]["field"] == "fields[0].value" and needle in result["errors"][0]["message"]
    assert await conn.fetchval("SELECT count(*) FROM profile_fields WHERE user_id = $1", ADULT) == 0

    assert (await give(client, tok, "birthday", "02-29"))["__typename"] == "ProfileUpdated"
    assert await conn.fetchval("SELECT value FROM profile_fields WHERE field = 'birthday'") == "02-29"
    # Whatever writes the row, a year cannot be stored.
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE profile_fields SET value = '1990-02-29' WHERE field = 'birthday'")
    # 29 February comes round on the 28th in other years.
    assert KeyDate("birthday", 2, 29).next_on(date(2027, 1, 1)) == date(2027, 2, 28)
    assert KeyDate("birthday", 2, 29).next_on(date(2027, 3, 1)) == date(2028, 2, 29)


async def test_a_one_year_birth_year_range_is_refused(
    client: httpx.AsyncClient, token: Callable[..., str], conn: asyncpg.Connection
) -> None:
    tok = token("user", ADULT)
    for value in ("1990-1990", "1990-1991", "1990-1993", "1990-2000"):
        result = await give(client, tok, "birth_year_range", value)
        assert result["__typename"] == "InvalidInput", value
        assert "5 to 10 years" in result["errors"][0]["message"]
    for value in ("1990-1994", "1980-1989"):
        assert (await give(client, tok, "birth_year_range", value))["__typename"] == "ProfileUpdated", value
    assert await conn.fetchval("SELECT birth_year_range FROM users WHERE user_id = $1", ADULT) == "1980-1989"


async def test_reminders_go_n_days_before_on_the_preferred_consented_channel_only(
    client: httpx.AsyncClient, token: Callable[..., str], conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    config = DomainConfig()
    days = config.key_dates.remind_days_before
    now = datetime.now(UTC)
    today = now.date()
    soon = mm_dd(today + timedelta(days=days))
    for uid in (ADULT, MINOR, UNSUBSCRIBED, NONE_LEVEL):
        assert (await give(client, token("user", uid), "birthday", soon))["__typename"] == "ProfileUpdated"
    # An anniversary one day beyond the window: not yet.
    await give(client, token("user", ADULT), "anniversary", mm_dd(today + timedelta(days=days + 1)))
    await conn.execute(
        "UPDATE users SET personalization_level = 'NONE', consent_version = consent_version + 1"
        " WHERE user_id = $1",
        NONE_LEVEL,
    )

    counts = await schedule_key_dates(pool, config, now=now)
    assert (counts.people, counts.allowed, counts.queued) == (3, 2, 2)  # UNSUBSCRIBED: no candidate
    assert (await schedule_key_dates(pool, config, now=now)).queued == 0  # one per date and year
    rows = {
        r["user_id"]: r
        for r in await conn.fetch("SELECT o.*, d.record FROM outbox o JOIN decisions d USING (decision_id)")
    }
    assert set(rows) == {ADULT, MINOR}
    adult, minor = rows[ADULT], rows[MINOR]
    on = today + timedelta(days=days)
    assert (adult["kind"], adult["channel"], adult["purpose"], adult["source"]) == (
        "key_date",
        "push",
        "marketing.communications.push",
        "stated",
    )
    assert adult["dedupe_key"] == f"key_date:birthday:{on.isoformat()}"
    assert "your birthday" in adult["message"]["text"] and "10% off" in adult["message"]["text"]
    why = adult["message"]["why"]
    assert why["signalSources"] == ["stated_by_you"] and why["reasons"][0]["code"] == "KEY_DATE"
    assert why["decisionId"] == str(adult["decision_id"])  # queued with its record
    assert "You chose push" in why["matchedCriteria"]
    # A minor gets the reminder they asked for, never the offer.
    assert "10% off" not in minor["message"]["text"]
    assert (
        "No offer: we never send marketing offers to people under 18"
        in minor["message"]["why"]["matchedCriteria"]
    )

    # The same decision, shown to the person, with its why.
    shown = (await call(client, REMINDERS, token=token("user", ADULT)))["data"]["viewer"]["keyDateReminders"]
    assert [(r["kind"], r["on"], r["channel"], r["offer"]) for r in shown] == [
        ("birthday", on.isoformat(), "push", True)
    ]
    assert shown[0]["why"]["controls"] == [
        {"kind": "OPEN_CONSENT", "purpose": "marketing.communications.push"}
    ]
    minor_shown = (await call(client, REMINDERS, token=token("user", MINOR)))["data"]["viewer"][
        "keyDateReminders"
    ]
    assert [r["offer"] for r in minor_shown] == [False]
    for uid in (UNSUBSCRIBED, NONE_LEVEL):
        assert (await call(client, REMINDERS, token=token("user", uid)))["data"]["viewer"][
            "keyDateReminders"
        ] == []

    # Delivered through the outbox like every message: once, signed, on push, with its why.
    with receiver() as hooks:
        await deliver_once(pool, hooks, conn, minor["message_id"])
        got = {h.body["userId"]: h for h in hooks.received}
    assert got[str(ADULT)].path == "/push" and got[str(ADULT)].signed
    assert got[str(ADULT)].body["kind"] == "key_date" and "10% off" in got[str(ADULT)].body["text"]
    assert got[str(ADULT)].body["why"]["decisionId"] == str(adult["decision_id"])

    await conn.execute("UPDATE outbox SET status = 'queued', sent_at = NULL, claim_token = NULL,"
                       " claimed_at = NULL, lease_until = NULL WHERE user_id = $1", ADULT)  # fmt: skip
    await conn.execute(
        "UPDATE consents SET granted = false"
        " WHERE user_id = $1 AND purpose = 'marketing.communications.push'",
        ADULT,
    )
    assert await conn.fetchval("SELECT status FROM outbox WHERE user_id = $1", ADULT) == "cancelled"
    await conn.execute("DELETE FROM outbox WHERE user_id = $1", ADULT)
    assert (await schedule_key_dates(pool, config, now=now)).queued == 0


async def deliver_once(
    pool: asyncpg.Pool, hooks: Receiver, conn: asyncpg.Connection, minor_message: Any
) -> None:
    """Deliver what is queued; the minor's message too, which carries no offer."""
    result = await deliver(pool, delivery_config(hooks))
    assert result.sent == 2
    assert await conn.fetchval("SELECT status FROM outbox WHERE message_id = $1", minor_message) == "sent"
    assert (await deliver(pool, delivery_config(hooks))).sent == 0


async def test_no_treat_without_consent_to_marketing_offers(
    client: httpx.AsyncClient, token: Callable[..., str], conn: asyncpg.Connection
) -> None:
    """The reminder is the person's (they allowed its channel); the treat is marketing, and
    follows their consent to marketing offers like every other offer."""
    soon = mm_dd(datetime.now(UTC).date() + timedelta(days=DomainConfig().key_dates.remind_days_before))
    assert (await give(client, token("user", ADULT), "birthday", soon))["__typename"] == "ProfileUpdated"

    async def offered() -> list[bool]:
        body = await call(client, REMINDERS, token=token("user", ADULT))
        return [r["offer"] for r in body["data"]["viewer"]["keyDateReminders"]]

    assert await offered() == [True]
    await grant(conn, ADULT, OFFERS, False)
    assert await offered() == [False]


async def test_the_person_chooses_how_many_days_ahead(
    client: httpx.AsyncClient, token: Callable[..., str], conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    tok = token("user", ADULT)
    now = datetime.now(UTC)
    in_five = mm_dd(now.date() + timedelta(days=5))
    assert (await give(client, tok, "key_date_reminder_days", "31"))["__typename"] == "InvalidInput"
    assert (await give(client, tok, "key_date_reminder_days", "2"))["__typename"] == "ProfileUpdated"
    assert (await give(client, tok, "anniversary", in_five))["__typename"] == "ProfileUpdated"
    assert (await schedule_key_dates(pool, DomainConfig(), now=now)).queued == 0  # 5 days > 2 chosen
    assert (await schedule_key_dates(pool, DomainConfig(), now=now + timedelta(days=3))).queued == 1
    why = (await conn.fetchval("SELECT message FROM outbox WHERE user_id = $1", ADULT))["why"]
    assert "Sent 2 days before" in why["matchedCriteria"]


async def test_the_message_is_written_in_the_persons_stored_language(
    client: httpx.AsyncClient, token: Callable[..., str], conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    tok = token("user", ADULT)
    now = datetime.now(UTC)
    on = now.date() + timedelta(days=2)
    await conn.execute("UPDATE users SET language = 'ru' WHERE user_id = $1", ADULT)
    assert (await give(client, tok, "key_date_reminder_days", "3"))["__typename"] == "ProfileUpdated"
    assert (await give(client, tok, "birthday", mm_dd(on)))["__typename"] == "ProfileUpdated"
    assert (await schedule_key_dates(pool, DomainConfig(), now=now)).queued == 1
    row = await conn.fetchrow(
        "SELECT o.message, d.record FROM outbox o JOIN decisions d USING (decision_id) WHERE o.user_id = $1",
        ADULT,
    )
    message, record = row["message"], row["record"]
    month = format_day_month(on, Language.RU)  # the month's Russian word, in its genitive form
    assert message["text"] == (
        f"Напоминание: ваш день рождения {month} (через 2 дн.). "
        "Подарок ко дню рождения: скидка 10% на один заказ в ту неделю, на которую приходится эта дата"
    )
    assert message["why"]["summary"].startswith("Напоминание: ваш день рождения")
    assert "Отправляется за 3 дн. до даты" in message["why"]["matchedCriteria"]
    assert message["why"]["controls"][0]["label"].startswith("Проверить ваше согласие")
    # the decision log keeps English, as for every decision
    assert record["summary"] == f"A reminder: your birthday is on {format_day_month(on)} (2 days from now)"

"""`viewer { reminders }`: the reminders that would go to the person's preferred channel, and why
(rules in resolvers/reminders/rules.py), and `viewer { keyDateReminders }`: the reminders about the
dates the person gave us (resolvers/reminders/key_dates.py)."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from privacy.purposes import Source
from privacy.vocabulary import Channel
from resolvers.context import Context
from resolvers.explain.record import Why, render_why
from resolvers.feed.schema import ItemType
from resolvers.model.rulebook import Rulebook
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


@strawberry.type(description="A reminder that would go to your preferred channel, and why.")
class Reminder:
    channel: str = strawberry.field(
        description=(
            "The channel it would be sent on (your preferred channel, lower case: email, sms,"
            " push or in_app)."
        )
    )
    item: ItemType = strawberry.field(description="The item to repurchase.")
    why: Why = strawberry.field(
        description="Why it is due (REPURCHASE_DUE); offers STOP_REMINDERS for the item."
    )


async def viewer_reminders(info: Info[Context, None]) -> list[Reminder]:
    ctx = info.context
    model = await ctx.model()
    account = model.account
    if account is None:
        return []
    purpose = reminder_purpose(model.consent, account.preferred_channel, account.subscribed)
    if purpose is None or account.preferred_channel is None:
        return []  # nothing read beyond the account
    signals = await model.signals(purpose)
    if signals is None:
        return []
    catalog = await ctx.catalog()
    rules = Rulebook.build(catalog, signals, model.controls, model.now)
    channel: Channel = account.preferred_channel
    decided = decide_reminders(signals, rules, model.consent, channel, purpose, model.now)
    ctx.log_decisions([r for _, r in decided])
    return [
        Reminder(channel=channel.value, item=ItemType.of(catalog.items[i]), why=render_why(r, ctx.language))
        for i, r in decided
    ]


@strawberry.type(description="A reminder about a date you gave us, as it would go to your preferred channel.")
class KeyDateReminder:
    kind: str = strawberry.field(description="birthday, anniversary or name_day.")
    on: date = strawberry.field(description="The date it is about (this year's or next year's).")
    channel: str = strawberry.field(description="Your preferred channel, where it goes.")
    text: str = strawberry.field(description="The message, with the offer when one comes with it.")
    offer: bool = strawberry.field(description="Whether the brand's offer comes with it (never under 18).")
    why: Why = strawberry.field(description="Why this reminder, from the record that decided it.")


async def viewer_key_date_reminders(info: Info[Context, None]) -> list[KeyDateReminder]:
    """The key-date reminders due now (resolvers/reminders/key_dates.py), read only when the
    preferred channel's purpose allows using what the person stated."""
    ctx = info.context
    model = await ctx.model()
    account = model.account
    if account is None or account.preferred_channel is None:
        return []
    channel: Channel = account.preferred_channel
    purpose = reminder_purpose(model.consent, channel, account.subscribed, Source.STATED)
    if purpose is None:
        return []  # nothing read beyond the account
    rows = await model.guard.fetch(
        Q.user_key_dates,
        account.user_id,
        list(READ_FIELDS),
        purpose=purpose,
        source=Source.STATED,
        tables=("profile_fields",),
        subject_user_id=account.user_id,
    )
    stated = [(r["field"], r["value"]) for r in rows]
    dates = parse_key_dates(stated)
    today = local_today(model.now, account.time_zone)
    cfg = ctx.config.key_dates
    decided = decide_key_dates(
        dates, model.consent, channel, purpose, today, model.now, cfg, days_before(stated, cfg)
    )
    ctx.log_decisions([m.record for m in decided])
    return [
        KeyDateReminder(
            kind=m.key_date.kind,
            on=m.on,
            channel=channel.value,
            text=m.text,
            offer=m.offer,
            why=render_why(m.record, info.context.language),
        )
        for m in decided
    ]

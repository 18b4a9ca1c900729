"""`viewer { reminders }`: the reminders that would go to the person's preferred channel, and why
(rules in resolvers/reminders/rules.py)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from privacy.vocabulary import Channel
from resolvers.context import Context
from resolvers.explain.record import Why, render_why
from resolvers.feed.schema import ItemType
from resolvers.model.rulebook import Rulebook
from resolvers.reminders.rules import decide_reminders, reminder_purpose


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
        Reminder(channel=channel.value, item=ItemType.of(catalog.items[i]), why=render_why(r))
        for i, r in decided
    ]

"""Repurchase reminders: a consumable whose cycle is due, sent only to the user's preferred
channel, only when that channel is subscribed and its communications purpose is granted. The
decision is pure (`decide_reminders`); `viewer { reminders }` shows what would be sent and why
(the sender job that delivers them reads the same decision)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from privacy.consent import ConsentSnapshot
from privacy.purposes import ESSENTIAL, Source, channel_purpose
from resolvers.context import Context
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    SignalSource,
    Why,
    render_why,
)
from resolvers.feed.schema import ItemType
from resolvers.model.catalog import CATALOG, Catalog
from resolvers.model.signals import SignalSnapshot, load_signals
from sql import load_queries

Q = load_queries()


@strawberry.type(description="A reminder that would go to your preferred channel, and why.")
class Reminder:
    channel: str
    item: ItemType
    why: Why


def reminder_purpose(consent: ConsentSnapshot, channel: str | None, subscribed: bool) -> str | None:
    """The purpose a reminder on this channel needs, when everything allows sending; else None."""
    if channel is None or not subscribed:
        return None
    purpose = channel_purpose(channel)
    if purpose is None or not consent.allows(purpose, Source.BEHAVIOURAL):
        return None
    return purpose


def decide_reminders(
    signals: SignalSnapshot,
    catalog: Catalog,
    consent: ConsentSnapshot,
    channel: str,
    purpose: str,
    now: datetime,
) -> list[tuple[int, DecisionRecord]]:
    out: list[tuple[int, DecisionRecord]] = []
    for item_id, bought_at in sorted(signals.purchased_items.items()):
        item = catalog.items.get(item_id)
        if item is None or not item.is_consumable or item.sensitive or item.repurchase_days is None:
            continue  # sensitive items are never pushed to a channel others may see
        if (now - bought_at).days < item.repurchase_days:
            continue
        text = f"Time to restock {item.name}: it usually lasts about {item.repurchase_days} days"
        out.append(
            (
                item_id,
                DecisionRecord(
                    surface=channel,
                    subject_kind="reminder",
                    subject_id=str(item_id),
                    mode=Mode.PERSONALIZED,
                    summary=text,
                    reasons=(Reason(ReasonCode.REPURCHASE_DUE, text, 1.0, item_id, item.name),),
                    signal_sources=(SignalSource.YOUR_ACTIVITY_HERE,),
                    data_categories=("user.behavior.purchase_history",),
                    purposes=(purpose,),
                    consent_snapshot_id=consent.snapshot_id,
                    generated_at=now,
                    matched_criteria=("You buy this regularly and it is about due", f"You chose {channel}"),
                    controls=(
                        Control(ControlKind.HIDE, "Stop reminders for this item"),
                        Control(ControlKind.OPEN_CONSENT, f"Review your consent for {purpose}", purpose),
                    ),
                ),
            )
        )
    return out


async def viewer_reminders(info: Info[Context, None], user_id: int) -> list[Reminder]:
    ctx = info.context
    guard = await ctx.guard()
    row = await guard.fetchrow(
        Q.reminder_channel,
        user_id,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("users", "user_channels"),
        subject_user_id=user_id,
    )
    if row is None:
        return []
    channel = row["preferred_channel"]
    purpose = reminder_purpose(guard.snapshot, channel, row["subscribed"])
    if purpose is None:
        return []  # nothing read beyond the account row
    signals = await load_signals(guard, user_id, purpose)
    catalog = await CATALOG.get(ctx.pool, ctx.config.personalization.catalog_ttl_s)
    decided = decide_reminders(signals, catalog, guard.snapshot, channel, purpose, datetime.now(UTC))
    ctx.log_decisions([r for _, r in decided])
    return [
        Reminder(channel=channel, item=ItemType.of(catalog.items[i]), why=render_why(r)) for i, r in decided
    ]

"""Repurchase reminders, pure: a consumable whose cycle is due, sent only to the user's preferred
channel, only when that channel is subscribed and its communications purpose is granted; the
rulebook leaves out what the person hid or stopped reminders for, and anything sensitive (a
reminder goes to a channel others may see). `viewer { reminders }` shows what would be sent and
why; the job that delivers reminders decides with this same function."""

from __future__ import annotations

from datetime import datetime

from privacy.consent import ConsentSnapshot
from privacy.purposes import Source, channel_purpose
from privacy.vocabulary import Channel, DataCategory
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    SignalSource,
)
from resolvers.model.controls import item_target
from resolvers.model.rulebook import Rulebook
from resolvers.model.signals import SignalSnapshot


def reminder_purpose(
    consent: ConsentSnapshot,
    channel: Channel | None,
    subscribed: frozenset[Channel],
    source: Source = Source.BEHAVIOURAL,
) -> str | None:
    """The purpose a reminder on this channel needs, when everything allows sending; else None.
    `source`: what the reminder is made from (purchases: behavioural; a key date: stated)."""
    if channel is None or channel not in subscribed:
        return None
    purpose = channel_purpose(channel.value)
    if purpose is None or not consent.allows(purpose, source):
        return None
    return purpose


def decide_reminders(
    signals: SignalSnapshot,
    rules: Rulebook,
    consent: ConsentSnapshot,
    channel: Channel,
    purpose: str,
    now: datetime,
) -> list[tuple[int, DecisionRecord]]:
    out: list[tuple[int, DecisionRecord]] = []
    for item_id, bought_at in sorted(signals.purchased_items.items()):
        item = rules.catalog.items.get(item_id)
        if item is None or not item.is_consumable or item.repurchase_days is None:
            continue
        if rules.excludes_reminder(item) is not None or (now - bought_at).days < item.repurchase_days:
            continue
        text = f"Time to restock {item.name}: it usually lasts about {item.repurchase_days} days"
        out.append(
            (
                item_id,
                DecisionRecord(
                    surface=channel.value,
                    subject_kind="reminder",
                    subject_id=str(item_id),
                    mode=Mode.PERSONALIZED,
                    summary=text,
                    reasons=(Reason(ReasonCode.REPURCHASE_DUE, text, 1.0, item_id, item.name),),
                    signal_sources=(SignalSource.YOUR_ACTIVITY_HERE,),
                    data_categories=(DataCategory.PURCHASES,),
                    purposes=(purpose,),
                    consent_snapshot_id=consent.snapshot_id,
                    generated_at=now,
                    matched_criteria=(
                        "You buy this regularly and it is about due",
                        f"You chose {channel.value.replace('_', '-')}",
                    ),
                    controls=(
                        Control(
                            ControlKind.STOP_REMINDERS,
                            "Stop reminders for this item",
                            target=item_target(item_id),
                        ),
                        Control(ControlKind.OPEN_CONSENT, f"Review your consent for {purpose}", purpose),
                    ),
                ),
            )
        )
    return out

"""What happens to one due message when it is claimed: send it now, cancel it, or let it wait.
Pure: the claim (jobs/outbox.py) loads the facts under the person's lock; this decides.

In order, the first that applies decides:
1. the person is gone (erased): cancel;
2. the message's channel is not the person's preferred channel: cancel;
3. the person is not subscribed to that channel: cancel;
4. their consent snapshot, read now, does not allow the message's purpose on its kind of data
   (the rule every read in the product goes through, privacy/consent.py): cancel with its reason;
5. it is quiet hours in the person's time zone: wait until they end;
6. the person already got `cap_per_person` messages in the cap window, on any channel: wait
   until the oldest of them leaves the window (a message claimed before, whose send was not
   confirmed, already holds its place and is not counted twice);
7. send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs.config import DeliveryConfig
from privacy.consent import ConsentSnapshot
from privacy.purposes import Source


class Action(StrEnum):
    SEND = "sending"
    CANCEL = "cancelled"
    WAIT = "queued"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str | None = None
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """One message and its person, as read under the person's lock."""

    channel: str
    purpose: str
    source: Source
    claimed_before: bool  # a claim whose lease ran out: it already counts under the cap
    snapshot: ConsentSnapshot | None  # None: no account any more
    preferred_channel: str | None
    subscribed: bool | None
    time_zone: str
    sends_in_window: int  # messages counted under the cap, including those sent in this claim
    oldest_in_window: datetime | None


def zone(name: str) -> ZoneInfo:
    """The person's zone; a name the tz database no longer knows falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(now: datetime, time_zone: str, start: time | None, end: time | None) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None when it is not quiet there now.
    The window [start, end) is local wall-clock time and may cross midnight."""
    if start is None or end is None:
        return None
    tz = zone(time_zone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    crosses_midnight = start > end
    quiet = (t >= start or t < end) if crosses_midnight else (start <= t < end)
    if not quiet:
        return None
    day = local.date() + timedelta(days=1) if crosses_midnight and t >= start else local.date()
    ends = datetime.combine(day, end, tzinfo=tz)
    return ends.astimezone(UTC)


def decide(facts: Facts, config: DeliveryConfig, now: datetime) -> Verdict:
    if facts.snapshot is None or facts.snapshot.user_id is None:
        return Verdict(Action.CANCEL, "no account")
    if facts.channel != facts.preferred_channel:
        return Verdict(Action.CANCEL, "no longer your preferred channel")
    if not facts.subscribed:
        return Verdict(Action.CANCEL, f"unsubscribed from {facts.channel}")
    refusal = facts.snapshot.refusal(facts.purpose, facts.source)
    if refusal is not None:
        return Verdict(Action.CANCEL, refusal)
    ends = quiet_until(now, facts.time_zone, config.quiet_start, config.quiet_end)
    if ends is not None:
        return Verdict(Action.WAIT, "quiet hours", ends)
    if not facts.claimed_before and facts.sends_in_window >= config.cap_per_person:
        oldest = facts.oldest_in_window or now
        return Verdict(
            Action.WAIT,
            "message cap reached",
            max(now, oldest + timedelta(hours=config.cap_window_hours)) + timedelta(seconds=1),
        )
    return Verdict(Action.SEND)

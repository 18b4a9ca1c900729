"""Key-date reminders, pure: a date the person gave us (birthday, anniversary, name day: day and
month only, privacy/profile_fields.py) is coming up within `remind_days_before` days, so a
reminder goes to their preferred channel, only when they are subscribed to it and its
communications purpose allows using what they stated (`reminder_purpose(..., Source.STATED)`:
level, objection, GPC, grants). The brand's offer comes with it only when configured and never for
a minor ("no marketing offers to people under 18"). Each message has its decision record; the
scheduling job (jobs/reminders.py) and `viewer { keyDateReminders }` decide with this function."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from privacy.consent import ConsentSnapshot
from privacy.i18n import Language, format_day_month, localize
from privacy.profile_fields import (
    FIELDS,
    KEY_DATE_FIELDS,
    MAX_REMINDER_DAYS,
    REMINDER_DAYS_FIELD,
    day_month,
)
from privacy.purposes import OFFERS, Source
from privacy.vocabulary import Channel
from resolvers.common.texts import text
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    SignalSource,
)
from resolvers.reminders.config import KeyDatesConfig


@dataclass(frozen=True, slots=True)
class KeyDate:
    kind: str  # a KEY_DATE_FIELDS name
    month: int
    day: int

    def next_on(self, today: date) -> date:
        """The next time the date comes round, today included; 29 February is kept on the 28th
        in other years."""
        for year in (today.year, today.year + 1):
            day = min(self.day, calendar.monthrange(year, self.month)[1])
            on = date(year, self.month, day)
            if on >= today:
                return on
        raise AssertionError("a day of the year always comes round within a year")


@dataclass(frozen=True, slots=True)
class KeyDateMessage:
    key_date: KeyDate
    on: date  # the occurrence it is about
    offer: bool
    text: str  # English: the reminder, then the treat when there is one
    record: DecisionRecord
    offer_text: str | None = None  # the treat's sentence, English

    def text_in(self, language: Language) -> str:
        """The message in `language`, sentence by sentence (each is a message id)."""
        if language is Language.EN:
            return self.text
        summary = localize(self.record.summary, language)
        return f"{summary}. {localize(self.offer_text, language)}" if self.offer_text else summary

    @property
    def dedupe_key(self) -> str:
        """One message per date and occurrence, however often the job runs."""
        return f"key_date:{self.key_date.kind}:{self.on.isoformat()}"


def local_today(now: datetime, time_zone: str) -> date:
    """The person's date now, in their time zone (a name the tz database no longer knows: UTC)."""
    try:
        return now.astimezone(ZoneInfo(time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return now.astimezone(ZoneInfo("UTC")).date()


def parse_key_dates(rows: Iterable[tuple[str, str]]) -> list[KeyDate]:
    """Key dates from (field, value) profile rows; anything else is ignored."""
    out: list[KeyDate] = []
    for field, value in rows:
        parsed = day_month(value) if field in KEY_DATE_FIELDS else None
        if parsed is not None:
            out.append(KeyDate(field, parsed[0], parsed[1]))
    return sorted(out, key=lambda k: KEY_DATE_FIELDS.index(k.kind))


def days_before(rows: Iterable[tuple[str, str]], cfg: KeyDatesConfig) -> int:
    """How many days ahead to remind: the person's own choice (the `key_date_reminder_days`
    profile field) when they gave one, else the configured default."""
    for field, value in rows:
        if field == REMINDER_DAYS_FIELD and value.isdigit() and int(value) <= MAX_REMINDER_DAYS:
            return int(value)
    return cfg.remind_days_before


# The profile fields a key-date decision reads: the dates and the person's lead time.
READ_FIELDS = (*KEY_DATE_FIELDS, REMINDER_DAYS_FIELD)


def decide_key_dates(
    dates: Iterable[KeyDate],
    consent: ConsentSnapshot,
    channel: Channel,
    purpose: str,
    today: date,
    now: datetime,
    cfg: KeyDatesConfig,
    lead_days: int | None = None,
) -> list[KeyDateMessage]:
    """The reminders due today for `dates`, `lead_days` (default: the configured number) ahead.
    The caller has checked the channel and its purpose (reminder_purpose with Source.STATED);
    `today` is the person's local date."""
    ahead = cfg.remind_days_before if lead_days is None else lead_days
    out: list[KeyDateMessage] = []
    channel_name = channel.value.replace("_", "-")
    for kd in dates:
        on = kd.next_on(today)
        days = (on - today).days
        if days > ahead:
            continue
        summary = (
            text(f"key_date.today.{kd.kind}")
            if days == 0
            else text(f"key_date.reminder.{kd.kind}", date=format_day_month(on), days=days)
        )
        # The treat is marketing: it needs the person's consent to marketing offers (on what they
        # stated), like every offer surface, and is never for a minor.
        offer = cfg.offer and consent.allows(OFFERS, Source.STATED) and not consent.is_minor
        criteria = [
            text(f"key_date.given.{kd.kind}"),
            text("key_date.criteria.channel", channel=channel_name),
            text("key_date.criteria.days_before", days=ahead),
        ]
        if cfg.offer and consent.is_minor:
            criteria.append(text("key_date.criteria.no_offer_minor"))
        treat = text(f"key_date.offer.{kd.kind}") if offer else None
        body = f"{summary}. {treat}" if treat else summary
        record = DecisionRecord(
            surface=channel.value,
            subject_kind="reminder",  # the decision log's kinds (migration 0001): a reminder
            subject_id=f"key_date:{kd.kind}",
            mode=Mode.PERSONALIZED,
            summary=summary,
            reasons=(Reason(ReasonCode.KEY_DATE, summary, 1.0),),
            signal_sources=(SignalSource.STATED_BY_YOU,),
            data_categories=(FIELDS[kd.kind].data_category,),
            purposes=(purpose,),
            consent_snapshot_id=consent.snapshot_id,
            generated_at=now,
            matched_criteria=tuple(criteria),
            controls=(
                Control(ControlKind.OPEN_CONSENT, text("key_date.control.consent", purpose=purpose), purpose),
            ),
        )
        out.append(KeyDateMessage(kd, on, offer, body, record, treat))
    return out

"""Progressive profiling: the only profile fields the product may store, each declared with its
data category, the purpose it serves, the stages at which it is asked, what the user gets for
it, and how it is validated.

Signing up needs nothing beyond a name or a phone number; an address is asked at checkout, a
phone at booking, interests only when the user wants personalization. A field is stored only
when it is declared for the stage and its purpose is allowed by the consent snapshot.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from privacy.purposes import ESSENTIAL

MINOR_AGE = 18


class Stage(StrEnum):
    SIGNUP = "signup"
    CHECKOUT = "checkout"
    BOOKING = "booking"
    PERSONALIZATION = "personalization"


Validator = Callable[[str], str | None]  # returns an error message, or None when valid


def _text(max_len: int) -> Validator:
    def check(value: str) -> str | None:
        if not value.strip():
            return "must not be empty"
        if len(value) > max_len:
            return f"at most {max_len} characters"
        if any(ord(ch) < 32 for ch in value):
            return "must not contain control characters"
        return None

    return check


_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}$")
_YEARS = re.compile(r"^([0-9]{4})-([0-9]{4})$")
_DAY_MONTH = re.compile(r"^([0-9]{2})-([0-9]{2})$")
# A birth-year range narrower than this comes close to the exact year (1990-1990 is the year).
MIN_YEARS = 5
MAX_YEARS = 10
_WORD = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
DIETS = frozenset({"vegetarian", "vegan", "pescatarian", "gluten_free", "lactose_free", "nut_free"})


def _phone(value: str) -> str | None:
    return None if _PHONE.match(value) else "an international number such as +4915112345678"


def _email(value: str) -> str | None:
    return None if len(value) <= 254 and _EMAIL.match(value) else "an email address such as ana@example.com"


def _birth_years(value: str) -> str | None:
    match = _YEARS.match(value)
    if match is None:
        return "a range of years such as 1980-1989"
    start, end = int(match.group(1)), int(match.group(2))
    this_year = datetime.now(UTC).year
    if not 1900 <= start <= end <= this_year:
        return f"years between 1900 and {this_year}, start not after end"
    if not MIN_YEARS <= end - start + 1 <= MAX_YEARS:
        return f"a range of {MIN_YEARS} to {MAX_YEARS} years such as 1980-1989 (never the exact year)"
    return None


def day_month(value: str) -> tuple[int, int] | None:
    """(month, day) of a key date written MM-DD, or None when it is not one. 02-29 is a day of
    the year (in other years it is kept on 02-28, resolvers/reminders/key_dates.py)."""
    match = _DAY_MONTH.fullmatch(value)
    if match is None:
        return None
    month, day = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        return None
    return month, day


def _day_month(value: str) -> str | None:
    if _DAY_MONTH.fullmatch(value) is None:
        return "day and month only, written MM-DD such as 03-14 (we never ask for the year)"
    if day_month(value) is None:
        return "not a day of the year (month 01-12, then a day that month has)"
    return None


def _reminder_days(value: str) -> str | None:
    if re.fullmatch(r"[0-9]{1,2}", value) is None or int(value) > 30:
        return "a whole number of days from 0 to 30"
    return None


def _word_list(allowed: frozenset[str] | None, max_items: int) -> Validator:
    def check(value: str) -> str | None:
        words = [w.strip() for w in value.split(",") if w.strip()]
        if not words or len(words) > max_items:
            return f"between 1 and {max_items} comma-separated values"
        for word in words:
            if allowed is not None and word not in allowed:
                return f"{word!r} is not one of {', '.join(sorted(allowed))}"
            if not _WORD.match(word):
                return f"{word!r}: lowercase words only"
        return None

    return check


@dataclass(frozen=True, slots=True)
class ProfileField:
    name: str
    data_category: str  # fideslang key
    purpose: str
    stages: tuple[Stage, ...]
    why: str
    benefit: str
    validate: Validator
    # Never a targeting input (it can reveal health or religion): stored for the service only.
    sensitive: bool = False


FIELDS: dict[str, ProfileField] = {
    f.name: f
    for f in (
        ProfileField(
            "name", "user.name", ESSENTIAL, (Stage.SIGNUP,),
            "to greet you and put your name on orders and bookings",
            "orders and bookings in your name", _text(100),
        ),
        ProfileField(
            "phone", "user.contact.phone_number", ESSENTIAL, (Stage.SIGNUP, Stage.BOOKING),
            "so the restaurant can reach you about your booking",
            "a call if your table or order changes", _phone,
        ),
        ProfileField(
            "email", "user.contact.email", ESSENTIAL, (Stage.CHECKOUT,),
            "to send your order confirmation and receipt",
            "a receipt for every order", _email,
        ),
        ProfileField(
            "address", "user.contact.address", ESSENTIAL, (Stage.CHECKOUT,),
            "to deliver your order",
            "delivery to your door", _text(300),
        ),
        ProfileField(
            "dietary_preferences", "user.preference.dietary", ESSENTIAL, (Stage.BOOKING,),
            "so the restaurant can prepare your meal; never used to target you",
            "a meal you can eat", _word_list(DIETS, 6), sensitive=True,
        ),
        ProfileField(
            "interests", "user.preference.interests", "personalize.content", (Stage.PERSONALIZATION,),
            "to start your feed with the categories you chose",
            "a feed about what you like, without us having to guess", _word_list(None, 10),
        ),
        ProfileField(
            "birth_year_range", "user.demographic.age_range", "personalize.content",
            (Stage.PERSONALIZATION,),
            "to suggest what fits your age group (a range of 5 to 10 years, never your birth date)",
            "suggestions for your age group", _birth_years,
        ),
        # Key dates: day and month only (the year is never asked nor stored, migration 0460),
        # reminded on the person's preferred, consented channel (resolvers/reminders/key_dates.py).
        ProfileField(
            "birthday", "user.demographic.date_of_birth", "personalize.content", (Stage.PERSONALIZATION,),
            "to remember your birthday (day and month only, never the year) and remind you before it",
            "a reminder before your birthday, and a birthday treat if you are 18 or over", _day_month,
        ),
        ProfileField(
            "anniversary", "user.demographic", "personalize.content", (Stage.PERSONALIZATION,),
            "to remember an anniversary you care about (day and month only)",
            "a reminder in time to plan for it", _day_month,
        ),
        ProfileField(
            "name_day", "user.demographic", "personalize.content", (Stage.PERSONALIZATION,),
            "to remember your name day (day and month only)",
            "a reminder before your name day", _day_month,
            sensitive=True,  # a name day can hint at a religion: never a targeting input
        ),
        ProfileField(
            "key_date_reminder_days", "user.preferences", "personalize.content", (Stage.PERSONALIZATION,),
            "to remind you of the dates you gave us as many days ahead as you like (0 to 30)",
            "reminders when they suit you", _reminder_days,
        ),
    )
}  # fmt: skip
KEY_DATE_FIELDS = ("birthday", "anniversary", "name_day")
REMINDER_DAYS_FIELD = "key_date_reminder_days"
MAX_REMINDER_DAYS = 30


def fields_for(stage: Stage) -> list[ProfileField]:
    return [f for f in FIELDS.values() if stage in f.stages]


def may_be_minor(birth_year_range: str) -> bool:
    """True when someone born in the range can be under 18 this year (protect when in doubt)."""
    match = _YEARS.match(birth_year_range)
    if match is None:
        return False
    return datetime.now(UTC).year - int(match.group(2)) <= MINOR_AGE

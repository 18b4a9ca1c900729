"""The person's language: message catalogues (gettext .po files, read with Babel when this module
is imported; nothing generated is committed), the choice of language from a stored preference or
`Accept-Language`, text direction, and number and date formats by locale (Babel's CLDR data).

Texts are written in English where they are decided (the rulebook, the tag and layout rules, the
purposes, the profile fields, the validators) and go to the decision log in English; they are
translated when they are rendered for the person. A catalogue's msgid is the English text itself,
or a template with `{name}` placeholders for texts that carry data (an item's name, a number):
`localize` finds the template an English text was made from, translates it and puts the same
values back (values are data and stay as they are). `tests/test_i18n.py` fails when a catalogue
misses a message id, and when a text the product renders has no message id."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale as BabelLocale
from babel.dates import format_date
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol

HERE = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# An Accept-Language value longer than this is not parsed (a header is attacker-controlled).
MAX_HEADER = 512
MAX_RANGES = 16


class Language(StrEnum):
    EN = "en"
    FA = "fa"
    AR = "ar"
    RU = "ru"


DEFAULT = Language.EN
RTL = frozenset({Language.FA, Language.AR})
TRANSLATED = (Language.FA, Language.AR, Language.RU)


def message_ids() -> list[str]:
    """Every message id, from the template (messages.pot), in file order."""
    with (HERE / "messages.pot").open("rb") as f:
        return [str(m.id) for m in read_po(f) if m.id]


def read_catalogue(language: Language) -> dict[str, str]:
    """msgid -> translation of one language's .po file (untranslated and fuzzy entries left out)."""
    with (HERE / "locales" / f"{language.value}.po").open("rb") as f:
        catalog = read_po(f, locale=language.value)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


@dataclass(frozen=True)
class _Template:
    msgid: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]


def _compile(msgid: str) -> _Template:
    names = tuple(_PLACEHOLDER.findall(msgid))
    parts = _PLACEHOLDER.split(msgid)
    # split alternates literal, name, literal, ...: a value matches anything, non-greedy
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return _Template(msgid, re.compile(regex + r"\Z", re.DOTALL), names)


class Catalogues:
    """The compiled catalogues: exact texts by msgid, templates by their literal prefix."""

    def __init__(self) -> None:
        ids = message_ids()
        self.exact = frozenset(i for i in ids if not _PLACEHOLDER.search(i))
        # Templates by the first 3 characters of their literal prefix; those starting with a
        # value (a shorter prefix) are tried for every text.
        self.templates: dict[str, list[_Template]] = {}
        self.anywhere: list[_Template] = []
        for msgid in ids:
            if _PLACEHOLDER.search(msgid):
                prefix = _PLACEHOLDER.split(msgid)[0]
                if len(prefix) >= 3:
                    self.templates.setdefault(prefix[:3], []).append(_compile(msgid))
                else:
                    self.anywhere.append(_compile(msgid))
        self.translations = {lang: read_catalogue(lang) for lang in TRANSLATED}

    def match(self, text: str) -> tuple[str, dict[str, str]] | None:
        """(msgid, values) the English `text` was made from, or None when it has no message id."""
        if text in self.exact:
            return text, {}
        for template in (*self.templates.get(text[:3], ()), *self.anywhere):
            found = template.pattern.match(text)
            if found is not None:
                return template.msgid, found.groupdict()
        return None

    def translate(self, text: str, language: Language, depth: int = 0) -> str:
        if language is Language.EN or not text:
            return text
        matched = self.match(text)
        if matched is None:
            return text
        msgid, values = matched
        translated = self.translations[language].get(msgid)
        if translated is None:
            return text
        if depth < 2:  # a value may itself be a message (a refusal inside a default tag's text)
            values = {k: self.translate(v, language, depth + 1) for k, v in values.items()}
        if DATE_PLACEHOLDER in values:  # a day of the year: its month is a word, not data
            values[DATE_PLACEHOLDER] = _local_day_month(values[DATE_PLACEHOLDER], language)
        # values are inserted literally (no format spec, no attribute access from data)
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), translated)


# A `{date}` placeholder holds a day of the year as the English text writes it ("14 March",
# `format_day_month`); a translation writes it again in the language's own words (CLDR data).
DATE_PLACEHOLDER = "date"
_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "January", "February", "March", "April", "May", "June",
            "July", "August", "September", "October", "November", "December",
        ),
        start=1,
    )
}  # fmt: skip


def format_day_month(on: date, language: Language = Language.EN) -> str:
    """A day of the year (no year) as `language` writes it: "14 March", "14 марта"."""
    return format_date(on, format="d MMMM", locale=language.value)


def _local_day_month(value: str, language: Language) -> str:
    day, _, month = value.partition(" ")
    number = _MONTHS.get(month)
    if number is None or not day.isdigit() or len(day) > 2:
        return value  # not a date `format_day_month` wrote: left as it is
    try:
        on = date(2000, number, int(day))  # a leap year: 29 February is a day of the year
    except ValueError:
        return value
    return format_day_month(on, language)


@cache
def catalogues() -> Catalogues:
    return Catalogues()


def localize(text: str, language: Language) -> str:
    """`text` (English, as decided) in `language`; unchanged for English or an unknown text."""
    if language is Language.EN:
        return text
    return _translated(text, language)


@lru_cache(maxsize=8192)
def _translated(text: str, language: Language) -> str:
    # The same texts come back on every request (a layout renders ~25 records): matched once.
    return catalogues().translate(text, language)


def negotiate(header: str | None) -> Language | None:
    """The best supported language of an `Accept-Language` header (RFC 9110 §12.5.4: ranges
    with q-values, `*`, region subtags ignored), or None when none is supported."""
    if not header or len(header) > MAX_HEADER:
        return None
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate(header.split(",")[:MAX_RANGES]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params:
            key, _, value = params.partition("=")
            if key.strip().lower() != "q":
                continue
            try:
                q = float(value.strip())
            except ValueError:
                continue
            if not 0 < q <= 1:
                continue
        primary = tag.strip().lower().split("-")[0]
        try:
            lang = Language(primary)
        except ValueError:
            continue
        if best is None or q > best[0] or (q == best[0] and position < best[1]):
            best = (q, position, lang)
    return best[2] if best else None


# The digits of the numbering systems our locales use by default (CLDR numberingSystems.xml);
# Babel names the system but writes Latin digits, so clients substitute these.
DIGITS = {
    "latn": "0123456789",
    "arab": "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "arabext": "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
}


@dataclass(frozen=True, slots=True)
class Formats:
    """How a client writes numbers and dates for the person (CLDR data through Babel)."""

    language: Language
    rtl: bool
    numbering_system: str
    digits: str
    decimal_symbol: str
    group_symbol: str
    number_example: str
    date_pattern: str
    date_example: str


def _digits(text: str, digits: str) -> str:
    return text.translate(str.maketrans("0123456789", digits))


@cache
def formats(language: Language) -> Formats:
    loc = BabelLocale.parse(language.value)
    system = str(loc.default_numbering_system)
    digits = DIGITS.get(system, DIGITS["latn"])
    sample = date(2026, 3, 21)
    return Formats(
        language=language,
        rtl=language in RTL,
        numbering_system=system if system in DIGITS else "latn",
        digits=digits,
        decimal_symbol=get_decimal_symbol(loc, numbering_system="default"),
        group_symbol=get_group_symbol(loc, numbering_system="default"),
        number_example=_digits(format_decimal(1234567.89, locale=loc, numbering_system="default"), digits),
        date_pattern=str(loc.date_formats["medium"].pattern),
        date_example=_digits(format_date(sample, format="medium", locale=loc), digits),
    )


# How a list of phrases is joined inside a sentence.
LIST_SEPARATOR = {Language.EN: "; ", Language.FA: "\u061b ", Language.AR: "\u061b ", Language.RU: "; "}


def fill(template: str, values: Mapping[str, object]) -> str:
    """`template` with each `{name}` replaced by `values[name]` inserted literally (no format
    spec, no attribute access; a missing value is a KeyError)."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))

"""The locale types every capability renders with: the language, its text direction and its
number and date formats (privacy/i18n holds the catalogues and the CLDR data)."""

from __future__ import annotations

from enum import Enum

import strawberry

from privacy.i18n import Language, formats


@strawberry.enum(name="Language", description="A language the product speaks.")
class LanguageType(Enum):
    EN = strawberry.enum_value("en", description="English")
    FA = strawberry.enum_value("fa", description="Farsi (Persian), written right to left")
    AR = strawberry.enum_value("ar", description="Arabic, written right to left")
    RU = strawberry.enum_value("ru", description="Russian")


@strawberry.enum(description="The direction text is written in.")
class TextDirection(Enum):
    LTR = strawberry.enum_value("LTR", description="left to right")
    RTL = strawberry.enum_value("RTL", description="right to left (Farsi, Arabic)")


@strawberry.type(description="How to write text, numbers and dates for this person (CLDR data).")
class LocaleFormats:
    language: LanguageType = strawberry.field(description="The language texts are rendered in.")
    direction: TextDirection = strawberry.field(description="Text direction of the language.")
    numbering_system: str = strawberry.field(
        description="CLDR numbering system of the language's digits (latn, arab, arabext)."
    )
    digits: str = strawberry.field(description="The ten digits 0-9 of that numbering system, in order.")
    decimal_symbol: str = strawberry.field(description="Decimal separator.")
    group_symbol: str = strawberry.field(description="Thousands separator.")
    number_example: str = strawberry.field(description="1234567.89 written the way of this locale.")
    date_pattern: str = strawberry.field(description="CLDR medium date pattern, e.g. `d MMM y`.")
    date_example: str = strawberry.field(description="21 March 2026 written the way of this locale.")


def locale_formats(language: Language) -> LocaleFormats:
    f = formats(language)
    return LocaleFormats(
        language=LanguageType(language.value),
        direction=TextDirection.RTL if f.rtl else TextDirection.LTR,
        numbering_system=f.numbering_system,
        digits=f.digits,
        decimal_symbol=f.decimal_symbol,
        group_symbol=f.group_symbol,
        number_example=f.number_example,
        date_pattern=f.date_pattern,
        date_example=f.date_example,
    )

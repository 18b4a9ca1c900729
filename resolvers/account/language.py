"""The person's language: a stored choice (`setLanguage`), else the request's `Accept-Language`,
else English. Every notice, prompt, why, control label and error message the person reads is
rendered in it from the message catalogues (privacy/i18n); the layout carries its direction and
number and date formats (`layoutConfig { locale }`)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.i18n import DEFAULT, Language, formats
from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()


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


@strawberry.type(description="Your language setting.")
class LanguageSetting:
    language: LanguageType | None = strawberry.field(
        description="Your stored choice; null: each request's Accept-Language decides."
    )
    effective: LocaleFormats = strawberry.field(description="The language this answer is rendered in.")


@strawberry.type
class LanguageMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description=(
            "Set the language of every text you read (notices, prompts, whys, controls, errors); "
            "null clears the choice so your device's Accept-Language decides."
        ),
    )
    async def set_language(
        self,
        info: Info[Context, None],
        language: Annotated[
            LanguageType | None, strawberry.argument(description="The language, or null to clear it.")
        ],
    ) -> LanguageSetting:
        guard, user_id = await own_guard(info)
        written = await guard.write(
            Q.set_language,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("users",),
            subject_user_id=user_id,
            language=language.value if language is not None else None,
        )
        if not written:
            raise account_gone()
        stored = Language(written[0]["language"]) if written[0]["language"] else None
        ctx = info.context
        ctx.language_choice = stored or ctx.accept_language or DEFAULT
        return LanguageSetting(
            language=LanguageType(stored.value) if stored else None,
            effective=locale_formats(ctx.language),
        )

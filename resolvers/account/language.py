"""The person's language: a stored choice (`setLanguage`), else the request's `Accept-Language`,
else English. Every notice, prompt, why, control label and error message the person reads is
rendered in it from the message catalogues (privacy/i18n); the layout carries its direction and
number and date formats (`layoutConfig { locale }`)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.i18n import DEFAULT, Language
from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.locale import LanguageType, LocaleFormats, locale_formats
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()


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
            LanguageType | None,
            strawberry.argument(description="The language; null or left out clears your choice."),
        ] = None,
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

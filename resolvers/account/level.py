"""The personalization level (NONE / BASIC / FULL), changeable any time in one call."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.consent import Level
from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()


@strawberry.type(description="The personalization level now in effect (from the next request).")
class PersonalizationLevelSet:
    level: Level = strawberry.field(description="The level now stored.")
    consent_version: int = strawberry.field(description="Bumped: snapshots and layout ETags change.")


@strawberry.type
class LevelMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="NONE (as anonymous), BASIC (stated data only) or FULL; applies from the next request.",
    )
    async def set_personalization_level(
        self,
        info: Info[Context, None],
        level: Annotated[Level, strawberry.argument(description="The level to use from the next request.")],
    ) -> PersonalizationLevelSet:
        guard, user_id = await own_guard(info)
        rows = await guard.write(
            Q.set_personalization_level,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("users",),
            subject_user_id=user_id,
            level=Level(level).value,
        )
        if not rows:
            raise account_gone()
        return PersonalizationLevelSet(
            level=Level(rows[0]["personalization_level"]), consent_version=rows[0]["consent_version"]
        )

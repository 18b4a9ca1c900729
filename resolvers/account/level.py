"""The personalization level (NONE / BASIC / FULL), changeable any time in one call."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from privacy.consent import Level
from privacy.principal import Role
from privacy.purposes import ESSENTIAL
from resolvers.account.own import account_gone, own_guard
from resolvers.account.viewer import PersonalizationLevel
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()


@strawberry.type(description="The personalization level now in effect (from the next request).")
class PersonalizationLevelSet:
    level: PersonalizationLevel
    consent_version: int = strawberry.field(description="Bumped: snapshots and layout ETags change.")


@strawberry.type
class LevelMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="NONE (as anonymous), BASIC (stated data only) or FULL; applies from the next request.",
    )
    async def set_personalization_level(
        self, info: Info[Context, None], level: PersonalizationLevel
    ) -> PersonalizationLevelSet:
        guard, user_id = await own_guard(info)
        row = await info.context.pool.fetchrow(Q.set_personalization_level, user_id, Level(level.value).value)
        if row is None:
            raise account_gone()
        guard.record(ESSENTIAL, ("users",), user_id, "write")
        return PersonalizationLevelSet(
            level=PersonalizationLevel(row["personalization_level"]), consent_version=row["consent_version"]
        )

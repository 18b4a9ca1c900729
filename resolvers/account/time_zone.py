"""The person's time zone: messages to them respect quiet hours in it (jobs/delivery_rules.py).

Every account has one: UTC until the person sets theirs. A name must be in the IANA tz database
(the `tzdata` package, so the answer does not depend on the host): an unknown name, a UTC offset
written by hand or a path is refused with a field error and nothing is written."""

from __future__ import annotations

from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

import strawberry
from strawberry.types import Info

from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()
MAX_LENGTH = 64


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone_error(name: str) -> str | None:
    """Why `name` is not an IANA time zone name, or None when it is one."""
    if not name or len(name) > MAX_LENGTH:
        return f"give an IANA time zone name of 1 to {MAX_LENGTH} characters, e.g. Europe/Berlin"
    if name not in _zones():
        return "not an IANA time zone name (for example Europe/Berlin, America/New_York or UTC)"
    return None


@strawberry.type(description="Your time zone, as stored.")
class TimeZoneSetting:
    time_zone: str = strawberry.field(description="The stored IANA time zone name, e.g. Europe/Paris.")


SetTimeZoneResult = Annotated[
    TimeZoneSetting | InvalidInput,
    strawberry.union(
        "SetTimeZoneResult",
        description="The stored time zone, or InvalidInput for a name that is not an IANA zone.",
    ),
]


@strawberry.type
class TimeZoneMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Set your IANA time zone (default UTC); messages are not sent in quiet hours there.",
    )
    async def set_time_zone(
        self,
        info: Info[Context, None],
        time_zone: Annotated[
            str, strawberry.argument(description="An IANA time zone name, e.g. Europe/Paris or UTC.")
        ],
    ) -> SetTimeZoneResult:
        guard, user_id = await own_guard(info)
        problem = time_zone_error(time_zone)
        if problem is not None:
            return InvalidInput(
                message="time zone not changed", errors=[FieldError(field="timeZone", message=problem)]
            )
        written = await guard.write(
            Q.set_time_zone,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("users",),
            subject_user_id=user_id,
            time_zone=time_zone,
        )
        if not written:
            raise account_gone()
        return TimeZoneSetting(time_zone=written[0]["time_zone"])

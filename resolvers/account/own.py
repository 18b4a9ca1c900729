"""The signed-in user acting on their own data: every privacy resolver starts here.

The user id always comes from the verified token, never from an argument, so no call can name
another user; an id without an account (never created, or erased) is refused like anonymous."""

from __future__ import annotations

from strawberry.types import Info

from privacy.guard import Guard
from resolvers.common.errors import Forbidden, Unauthenticated
from resolvers.context import Context


async def own_guard(info: Info[Context, None]) -> tuple[Guard, int]:
    """The operation's guard and the caller's user id; refuses anyone who is not a known user."""
    ctx = info.context
    user_id = ctx.principal.user_id
    if user_id is None:
        raise Unauthenticated("sign in as a user to manage your own data")
    guard = await ctx.guard()
    if guard.snapshot.user_id != user_id:
        raise Forbidden("no account for this user")
    return guard, user_id


def account_gone() -> Forbidden:
    """The account was erased while this operation ran: nothing was written."""
    return Forbidden("no account for this user")

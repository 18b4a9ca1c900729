"""Expected outcomes as schema types (clients switch on `__typename`), and the domain error
base whose messages are safe to show. Anything else is masked by the gateway."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from privacy.i18n import DEFAULT, localize


class SafeError(Exception):
    """An error whose message may reach the client unmasked, with a stable code."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(SafeError):
    code = "FORBIDDEN"


class Unauthenticated(SafeError):
    code = "UNAUTHENTICATED"


class InvalidArgument(SafeError):
    code = "BAD_USER_INPUT"


async def _localized(info: Info[Any, None], text: str) -> str:
    """`text` in the person's language (their stored choice is read first when signed in)."""
    settled = getattr(info.context, "settled_language", None)
    language = await settled() if settled is not None else DEFAULT
    return localize(text, language)


@strawberry.type(description="One problem with one input field.")
class FieldError:
    field: str = strawberry.field(description="Path of the field, e.g. `events[3].occurredAt`.")
    english: strawberry.Private[str]
    index: int | None = strawberry.field(default=None, description="Index in a list input, if any.")

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        self.field = field
        self.english = message
        self.index = index

    @strawberry.field(description="What is wrong with it, safe to show, in the person's language.")
    async def message(self, info: Info[Any, None]) -> str:
        return await _localized(info, self.english)


@strawberry.type(description="The input was rejected; nothing was written.")
class InvalidInput:
    english: strawberry.Private[str]
    errors: list[FieldError] = strawberry.field(
        description="One entry per problem; several fields can be wrong at once."
    )

    def __init__(self, message: str, errors: list[FieldError]) -> None:
        self.english = message
        self.errors = errors

    @strawberry.field(description="What was not done, e.g. 'consent not changed', in the person's language.")
    async def message(self, info: Info[Any, None]) -> str:
        return await _localized(info, self.english)


def pydantic_errors(exc: object, prefix: str = "") -> list[FieldError]:
    """Field-level errors from a pydantic ValidationError."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    out: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"]]
        index = next((int(p) for p in loc if p.isdigit()), None)
        path = prefix + ".".join(loc)
        out.append(FieldError(field=path, message=err["msg"], index=index))
    return out

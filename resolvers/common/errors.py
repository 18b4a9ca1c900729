"""Expected outcomes as schema types (clients switch on `__typename`), and the domain error
base whose messages are safe to show. Anything else is masked by the gateway."""

from __future__ import annotations

import strawberry


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


@strawberry.type(description="One problem with one input field.")
class FieldError:
    field: str = strawberry.field(description="Path of the field, e.g. `events[3].occurredAt`.")
    message: str = strawberry.field(description="What is wrong with it, safe to show.")
    index: int | None = strawberry.field(default=None, description="Index in a list input, if any.")


@strawberry.type(description="The input was rejected; nothing was written.")
class InvalidInput:
    message: str = strawberry.field(description="What was not done, e.g. 'consent not changed'.")
    errors: list[FieldError] = strawberry.field(
        description="One entry per problem; several fields can be wrong at once."
    )


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

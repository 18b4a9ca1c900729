"""What the client sees when something goes wrong during an operation.

- validation, permission and domain (SafeError / PrivacyError) errors: unchanged, in the
  person's language where the message catalogue has them;
- the database unreachable: "database unavailable", code SERVICE_UNAVAILABLE, and the whole
  response becomes HTTP 503 with Retry-After (a retryable outage, not a masked 200);
- a statement cancelled by statement_timeout: code TIMEOUT, retryable;
- anything else: masked as "Unexpected error." with `extensions.request_id`, and logged with the
  same request id and the traceback, so a report from a client can be found in the logs.

Every error carries `extensions.request_id`. In production no message carries a "Did you mean …"
suggestion (graphql-core adds them outside Strawberry's field-suggestion switch too: argument,
type, enum value and input field names, during validation and when coercing variables).

This replaces Strawberry's MaskErrors (same masking, plus the request id and the outage mapping).
`send_error` writes the same JSON error shape for answers given before any GraphQL runs
(401, 408, 413, 429, malformed bodies)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from enum import Enum
from typing import Any

import asyncpg
import orjson
from graphql import GraphQLError
from starlette.types import Send
from strawberry.types import ExecutionResult

from privacy.guard import PrivacyError
from privacy.i18n import DEFAULT, localize
from resolvers.common.errors import SafeError

log = logging.getLogger("gateway.errors")
MASKED_MESSAGE = "Unexpected error."
UNAVAILABLE_MESSAGE = "The database is unavailable; the request was not processed. Retry later."
TIMEOUT_MESSAGE = "The request took too long and was cancelled; retry, or ask for less."
# graphql-core appends suggestions as " Did you mean 'a', 'b', or 'c'?" (names never hold "?").
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


class Failure(Enum):
    CLIENT = "client"  # written for the client: pass through
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    UNEXPECTED = "unexpected"


def classify(exc: BaseException | None) -> Failure:
    if exc is None or isinstance(exc, GraphQLError | SafeError | PrivacyError):
        return Failure.CLIENT
    if isinstance(exc, asyncpg.QueryCanceledError | TimeoutError):
        return Failure.TIMEOUT
    if is_unavailable(exc):
        return Failure.UNAVAILABLE
    return Failure.UNEXPECTED


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or is shutting down / starting up (class 08 and 57P)."""
    return isinstance(
        exc,
        OSError
        | asyncpg.PostgresConnectionError
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.TooManyConnectionsError,
    )


def _rewrite(
    error: GraphQLError, message: str, extensions: dict[str, Any], keep_cause: bool = False
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error if keep_cause else None,
        extensions=extensions,
    )


def apply_error_policy(ctx: Any, retry_after: int, hide_suggestions: bool = False) -> None:
    """After the operation: rewrite its errors (see the module doc) and mark an outage as 503."""
    context = ctx.context
    result = ctx.result
    errors = getattr(result, "errors", None)
    if not errors:
        return
    request_id = getattr(context, "request_id", "")
    processed: list[GraphQLError] = []
    unavailable = False
    for error in errors:
        kind = classify(error.original_error)
        if kind is Failure.CLIENT:
            # A copy: validation errors are cached and shared by concurrent requests.
            message = _SUGGESTION.sub("", error.message) if hide_suggestions else error.message
            # in the person's language where the catalogue has the message (privacy/i18n);
            # GraphQL's own validation messages have none and stay as they are
            message = localize(message, getattr(context, "language", DEFAULT))
            extensions = {**(error.extensions or {}), "request_id": request_id}
            processed.append(_rewrite(error, message, extensions, keep_cause=True))
        elif kind is Failure.UNAVAILABLE:
            unavailable = True
            log.warning(
                "database unavailable: %s",
                type(error.original_error).__name__,
                extra={"request_id": request_id},
            )
            extensions = {
                "code": "SERVICE_UNAVAILABLE",
                "retryable": True,
                "retry_after_s": retry_after,
                "request_id": request_id,
            }
            processed.append(_rewrite(error, UNAVAILABLE_MESSAGE, extensions))
        elif kind is Failure.TIMEOUT:
            log.warning("statement timed out", extra={"request_id": request_id})
            extensions = {"code": "TIMEOUT", "retryable": True, "request_id": request_id}
            processed.append(_rewrite(error, TIMEOUT_MESSAGE, extensions))
        else:
            log.error(
                "unexpected error in %s",
                ctx.operation_name or "anonymous operation",
                exc_info=error.original_error,
                extra={"request_id": request_id},
            )
            processed.append(_rewrite(error, MASKED_MESSAGE, {"code": "INTERNAL", "request_id": request_id}))
    result.errors = processed
    response = getattr(context, "response", None)
    if unavailable and response is not None:
        mark_unavailable(response, retry_after)


def mark_unavailable(response: Any, retry_after_s: int) -> None:
    response.status_code = 503
    response.headers["Retry-After"] = str(retry_after_s)


def closing_failed(context: Any, exc: Exception, retry_after_s: int) -> ExecutionResult:
    """The operation ran but its audit entries could not be written: withhold the data."""
    request_id = getattr(context, "request_id", "")
    if is_unavailable(exc):
        log.warning("database unavailable while closing the operation", extra={"request_id": request_id})
        mark_unavailable(context.response, retry_after_s)
        message, code = UNAVAILABLE_MESSAGE, "SERVICE_UNAVAILABLE"
    else:
        log.error("closing the operation failed", exc_info=exc, extra={"request_id": request_id})
        message, code = MASKED_MESSAGE, "INTERNAL"
    error = GraphQLError(message, extensions={"code": code, "request_id": request_id})
    return ExecutionResult(data=None, errors=[error])


def error_body(message: str, code: str, request_id: str, **extensions: object) -> bytes:
    """The JSON body of an error answered outside GraphQL execution (same shape as inside)."""
    extensions = {"code": code, **extensions, "request_id": request_id}
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})


async def send_error(
    send: Send,
    status: int,
    message: str,
    code: str,
    request_id: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    **extensions: object,
) -> None:
    """Answer a pure-ASGI request with `error_body` (the request id header is added by
    RequestContextMiddleware, which wraps every response)."""
    body = error_body(message, code, request_id, **extensions)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

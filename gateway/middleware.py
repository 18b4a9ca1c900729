"""Pure ASGI middleware in front of every route: a request id, the bearer token turned into a
Principal before any GraphQL work, and the headers every response carries.

A bad token is not answered here: it is recorded (`state["auth_error"]`) and answered 401 by
RateLimitMiddleware after it has been counted against the client's address, so a flood of bad
tokens is rate limited like anonymous traffic.

Every response gets `x-request-id` and hardening headers. Responses of this API carry personal
data (a user's feed, consent, tags) and must not be stored by browsers or proxies:
`Cache-Control: no-store` unless the route chose its own caching (the persisted layout answers
`private, max-age=…` with an ETag). Non-HTML responses get a CSP that allows nothing (a JSON
answer opened in a browser cannot run or load anything). An exception that escapes the app is
answered as JSON with the request id (and logged with it), never as a plain-text 500."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import AuthError, Verifier
from gateway.errors import MASKED_MESSAGE, send_error
from privacy.principal import ANONYMOUS

log = logging.getLogger("gateway.errors")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

HARDENING_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
NON_HTML_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
NO_STORE = (b"cache-control", b"no-store")


def request_id_of(supplied: str | None) -> str:
    """The request's id: the client's `x-request-id` when it is safe to log and echo, else new."""
    return supplied if supplied and _SAFE_REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def response_headers(headers: list[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    """The headers a response leaves with: its own, the request id and the hardening set."""
    names = {key.lower() for key, _ in headers}
    out = [*headers, (b"x-request-id", request_id.encode())]
    out += [header for header in HARDENING_HEADERS if header[0] not in names]  # a route's own win
    if b"cache-control" not in names:
        out.append(NO_STORE)
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if b"content-security-policy" not in names and not content_type.startswith(b"text/html"):
        out.append(NON_HTML_CSP)
    return out


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, verifier: Verifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(_header(scope, b"x-request-id"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["gpc"] = _header(scope, b"sec-gpc") == "1"
        try:
            state["principal"] = self.verifier.principal(_header(scope, b"authorization"))
        except AuthError as exc:
            state["principal"] = ANONYMOUS
            state["auth_error"] = exc.message
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = response_headers(list(message.get("headers", [])), request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            if started:
                raise
            await send_error(send_with_headers, 500, MASKED_MESSAGE, "INTERNAL", request_id)

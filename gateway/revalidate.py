"""The revalidation lane: a layout GET whose `If-None-Match` still matches, answered 304 in one
place instead of through the five middleware layers and the persisted endpoint.

A mobile app revalidates its layout on every screen; the answer is a 304 with no body, so what
it costs is the per-request work around it. This lane does that work once, in order, with the
same outcome as the full chain (tests/test_revalidate.py compares the two):

- request id (the client's safe `x-request-id`, else a new one), the principal from the cached
  token, the GPC signal;
- the ETag from the in-memory versions (gateway/etag_cache.py) and the cached variables of this
  query string (gateway/persisted.py), exactly as the persisted endpoint computes it;
- the rate limit, counted like RateLimitMiddleware (a refusal is answered 429 here);
- the response headers: the route's caching headers, the request id, the hardening set and the
  CSP, in the order the chain adds them;
- the metrics and the JSON access line, as AccessLogMiddleware records them.

Anything else goes down the full chain untouched, before any of the above has counted or
logged anything: another method or path, a request with a body (the body limit's business), a
token that is refused (answered 401 after the rate limit), variables or versions not in memory
(the database is read there), or an ETag that does not match (the layout is computed there)."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import AuthError, Verifier
from gateway.errors import MASKED_MESSAGE, send_error
from gateway.middleware import HARDENING_HEADERS, NON_HTML_CSP, request_id_of, response_headers
from gateway.observability import log_access, observe
from gateway.persisted import PersistedEndpoint, PersistedLane, _matches, etag_of
from gateway.ratelimit import LIMITED_PREFIX, LocalLimiter, RedisLimiter, principal_key, send_rate_limited

log = logging.getLogger("gateway.errors")

ROUTE_LABEL = "/graphql/persisted"  # observability._route_label of every persisted path
NO_OPERATION = "-"  # a 304 runs no operation: its metric label and logged name
_HEADERS = frozenset({b"authorization", b"x-request-id", b"sec-gpc", b"if-none-match", b"accept-language"})
_BODY = (b"content-length", b"transfer-encoding")
# Headers the chain adds to a 304 that already has Cache-Control and no Content-Type.
SECURITY_HEADERS = (*HARDENING_HEADERS, NON_HTML_CSP)


class RevalidationLane:
    """The outermost layer of the app (gateway/app.py): see the module doc."""

    def __init__(
        self,
        app: ASGIApp,
        endpoint: PersistedEndpoint,
        verifier: Verifier,
        limiter: LocalLimiter | RedisLimiter,
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.verifier = verifier
        self.limiter = limiter
        assert PersistedLane.PREFIX.startswith(LIMITED_PREFIX)  # the lane's requests are limited
        # The route's caching headers per visibility: only the ETag and request id vary.
        max_age = endpoint.config.layout.max_age_s
        vary = (b"vary", b"Authorization, Sec-GPC, Accept-Language")
        self._caching = {
            anonymous: [
                (b"cache-control", f"{'public' if anonymous else 'private'}, max-age={max_age}".encode()),
                vary,
            ]
            for anonymous in (True, False)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PersistedLane.PREFIX)
            and await self._revalidate(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _revalidate(self, scope: Scope, send: Send) -> bool:
        """Answers a matching revalidation (True), or leaves the request untouched (False)."""
        start = time.perf_counter()
        endpoint = self.endpoint
        doc = endpoint.registry.get(scope["path"][len(PersistedLane.PREFIX) :])
        if doc is None or doc.etag_scope is None:
            return False
        known = endpoint._queries.get((doc.id, scope.get("query_string", b"")))
        if known is None or known[1] is None:
            return False
        found: dict[bytes, str] = {}
        for key, value in scope["headers"]:
            if key in _HEADERS:
                found.setdefault(key, value.decode("latin-1"))
            elif key in _BODY and not (key == b"content-length" and value == b"0"):
                return False  # a body: the body limit's business
        if_none_match = found.get(b"if-none-match")
        if not if_none_match:
            return False
        try:
            principal = self.verifier.principal(found.get(b"authorization"))
        except AuthError:
            return False
        versions = endpoint.versions.peek(principal.user_id)
        if versions is None:
            return False
        gpc = found.get(b"sec-gpc") == "1"
        language = found.get(b"accept-language")
        etag, _ = etag_of(versions, doc, known[1], principal.user_id, gpc, endpoint.fingerprint, language)
        if not _matches(if_none_match, etag):
            return False

        request_id = request_id_of(found.get(b"x-request-id"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["gpc"] = gpc
        state["principal"] = principal
        status = 500
        started = False

        async def send_with_headers(message: Any) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = response_headers(list(message.get("headers", [])), request_id)
            await send(message)

        try:
            # The state holds this request's principal (set above): the middleware's own key.
            wait = await self.limiter.take(*principal_key(scope))
            if wait > 0:
                await send_rate_limited(send_with_headers, wait, request_id)
            else:
                # What response_headers() makes of the route's headers, built at once.
                headers = [
                    *self._caching[principal.is_anonymous],
                    (b"etag", etag.encode()),
                    (b"x-request-id", request_id.encode()),
                    *SECURITY_HEADERS,
                ]
                started, status = True, 304
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            if started:
                raise
            await send_error(send_with_headers, 500, MASKED_MESSAGE, "INTERNAL", request_id)
        finally:
            elapsed = time.perf_counter() - start
            observe(ROUTE_LABEL, NO_OPERATION, status, elapsed)
            log_access(request_id, NO_OPERATION, principal.role.value, status, elapsed, "GET", ROUTE_LABEL)
        return True

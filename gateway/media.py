"""Response media types of the GraphQL-over-HTTP spec, chosen from the request's Accept header.

- `application/graphql-response+json` when the client asks for it: a request error (the
  document does not parse or validate, or the variables do not coerce) is answered 400 with no
  `data` entry; a response that has `data` (null included) is 200.
- `application/json` otherwise (no Accept, `*/*`, or asked for): 200 for every well-formed
  request, as before, so older clients see no change.
An Accept header that names neither is answered with application/json (the spec allows 406;
clients from before the spec's watershed send such headers and expect JSON)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cross_web import HTTPException

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# What a client that prefers the new type receives (the spec's examples carry the charset).
GRAPHQL_RESPONSE_CONTENT_TYPE = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
# Failures of the server, not of the request: never a 4xx.
SERVER_FAILURE_CODES = frozenset({"INTERNAL", "SERVICE_UNAVAILABLE", "TIMEOUT"})


def _ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if media:
            out.append((media.lower(), q))
    return out


def _quality(media: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The q of the most specific range matching `media`, and that specificity (2 exact ... 0 */*)."""
    kind = media.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for pattern, q in ranges:
        if pattern == media:
            specificity = 2
        elif pattern == f"{kind}/*":
            specificity = 1
        elif pattern == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (q, specificity)
    return best


class MethodNotAllowed(HTTPException):
    """405, with the methods that would have been allowed (a GET mutation: POST only)."""

    def __init__(self, reason: str, allow: str = "GET, POST") -> None:
        super().__init__(405, reason)
        self.allow = allow


@lru_cache(maxsize=256)  # clients send a handful of distinct Accept headers; bounded all the same
def negotiate(accept: str | None) -> str:
    """GRAPHQL_RESPONSE_JSON or JSON for this Accept header."""
    if not accept:
        return JSON
    ranges = _ranges(accept)
    new_q, new_specificity = _quality(GRAPHQL_RESPONSE_JSON, ranges)
    json_q, _ = _quality(JSON, ranges)
    # Only a client that names the new type gets it: `*/*` and `application/*` mean JSON.
    if new_specificity == 2 and new_q > 0 and new_q >= json_q:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def is_request_error(result: Any) -> bool:
    """Nothing was executed because of the request: a parse, validation or variable-coercion
    error (no `data`, and no error has a path; field errors have one)."""
    errors = result.errors
    if result.data is not None or not errors:
        return False
    return all(
        e.path is None and (e.extensions or {}).get("code") not in SERVER_FAILURE_CODES for e in errors
    )

"""Pure ASGI middleware in front of every route: a request id, and the bearer token turned into
a Principal before any GraphQL work (a bad token is a 401 here, never a 500 later)."""

from __future__ import annotations

import re
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import AuthError, Verifier

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, verifier: Verifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["gpc"] = _header(scope, b"sec-gpc") == "1"
        try:
            state["principal"] = self.verifier.principal(_header(scope, b"authorization"))
        except AuthError as exc:
            await _unauthorized(send, exc.message, request_id)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


async def _unauthorized(send: Send, message: str, request_id: str) -> None:
    body = orjson.dumps(
        {
            "errors": [
                {"message": message, "extensions": {"code": "UNAUTHENTICATED", "request_id": request_id}}
            ]
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (
                    b"www-authenticate",
                    f'Bearer error="invalid_token", error_description="{message}"'.encode(),
                ),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

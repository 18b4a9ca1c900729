"""Request body cap and read deadline as pure ASGI middleware.

- Size: a body larger than the cap is refused with 413 without reading more than the cap (a
  declared Content-Length is checked before reading at all; a chunked body is counted as it
  streams and cut off at the cap).
- Time: the whole body must arrive within `body_timeout_s` of the request's start; a body still
  incomplete then is answered 408 and the connection closed, so a client trickling one byte
  every few seconds cannot hold a connection (and a worker's attention) for minutes. The
  deadline covers reading the body only: once it is complete, nothing here limits how long the
  request may run (statement_timeout does that)."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import send_error

CLOSE = (b"connection", b"close")


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id", "")
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send, request_id)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        seen = 0
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, complete
            if complete:  # e.g. waiting for http.disconnect while streaming a response
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:  # cannot happen for GraphQL (the body is read first); never send twice
                raise
            await self._too_large(send, request_id)
        except BodyTooSlow:
            if started:
                raise
            await send_error(
                send,
                408,
                f"the request body did not arrive within {self.timeout_s:g} s",
                "REQUEST_TIMEOUT",
                request_id,
                headers=[CLOSE],
                timeout_s=self.timeout_s,
            )

    async def _too_large(self, send: Send, request_id: str) -> None:
        await send_error(
            send,
            413,
            f"request body exceeds the limit of {self.max_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
            request_id,
            headers=[CLOSE],
            max_bytes=self.max_bytes,
        )

"""Where messages go: a webhook per channel (signed), or the log (the default).

The webhook contract (docs/jobs.md): one POST per message, the JSON body below, and headers
- `Idempotency-Key`: the message id; a message sent again (after a crash or a timeout) carries
  the same key and the same body, so the receiver processes it once;
- `X-Gateway-Timestamp`: Unix seconds when this attempt was signed;
- `X-Gateway-Signature`: `v1=` + hex HMAC-SHA256 over `<timestamp>.<body>` with the channel's
  secret. The receiver recomputes it (constant-time compare) and refuses a timestamp older than a
  few minutes, so a captured request cannot be replayed later.
2xx is delivered; 408, 425, 429 and 5xx (and network errors) are retried with backoff; any other
status is a permanent refusal (the message is marked failed)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from jobs.config import DeliveryConfig, Webhook

log = logging.getLogger("gateway.delivery")
SIGNATURE_VERSION = "v1"
RETRYABLE = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way to a sink: the body is the same for every attempt."""

    user_id: int
    message_id: str
    channel: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    permanent: bool = False
    error: str | None = None


class Sink(Protocol):
    async def send(self, message: Outgoing) -> SendResult: ...


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def verify(
    secret: bytes, timestamp: str, signed: str, body: bytes, now: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), signed)


class LogSink:
    """Development default: one JSON log line per message (what a webhook would receive)."""

    async def send(self, message: Outgoing) -> SendResult:
        log.info("message delivered to the log sink", extra={"delivery": message.body})
        return SendResult(ok=True)


class WebhookSink:
    def __init__(self, client: httpx.AsyncClient, hook: Webhook) -> None:
        self.client = client
        self.url = str(hook.url)
        self.secret = hook.secret.get_secret_value().encode()
        self.timeout_s = hook.timeout_s

    async def send(self, message: Outgoing) -> SendResult:
        body = orjson.dumps(message.body)
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.message_id,
            "X-Gateway-Timestamp": str(ts),
            "X-Gateway-Signature": signature(self.secret, ts, body),
        }
        try:
            response = await self.client.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(ok=True)
        permanent = status < 500 and status not in RETRYABLE
        return SendResult(ok=False, permanent=permanent, error=f"HTTP {status}")


class Sinks:
    """The sink of each channel: its webhook when one is configured, else the log."""

    def __init__(self, by_channel: Mapping[str, Sink], default: Sink) -> None:
        self.by_channel = dict(by_channel)
        self.default = default

    @classmethod
    def from_config(cls, config: DeliveryConfig, client: httpx.AsyncClient) -> Sinks:
        return cls({ch.value: WebhookSink(client, hook) for ch, hook in config.webhooks.items()}, LogSink())

    def for_channel(self, channel: str) -> Sink:
        return self.by_channel.get(channel, self.default)

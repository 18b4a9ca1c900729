"""Helpers for the background-job tests: a local webhook receiver that verifies signatures and
dedupes by idempotency key (as a real receiver would), a `gateway worker` subprocess, settings
for in-process workers, and waiting on the database's own state."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg

from jobs.outbox import NewMessage, queue_messages
from jobs.sinks import verify
from privacy.principal import Principal, Role
from privacy.purposes import Source
from privacy.snapshots import BatchGuard, load_snapshots
from resolvers.explain.record import DecisionRecord, Mode, Reason, ReasonCode, SignalSource
from tests.conftest import TEST_SECRET
from tests.outage import free_port

WEBHOOK_SECRET = "webhook-secret-" + "s" * 40


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    signed: bool  # the HMAC over timestamp.body matched and the timestamp was recent
    path: str


@dataclass
class Receiver:
    """A webhook receiver on loopback. `respond(received) -> status` chooses the answer (200 by
    default); `hold` (an Event) makes the first request wait until it is set, so a test can act
    while a send is in flight."""

    secret: str = WEBHOOK_SECRET
    respond: Callable[[Received], int] = lambda _: 200
    hold: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def deliveries(self) -> dict[str, Received]:
        """What the receiver acted on: the first request of each idempotency key (signed only)."""
        first: dict[str, Received] = {}
        with self.lock:
            for r in self.received:
                if r.signed and r.key not in first:
                    first[r.key] = r
        return first

    def count(self, key: str) -> int:
        with self.lock:
            return sum(r.key == key for r in self.received)


@contextmanager
def receiver(**kwargs: Any) -> Iterator[Receiver]:
    rec = Receiver(**kwargs)
    held = {"first": True}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signed = verify(
                rec.secret.encode(),
                self.headers.get("X-Gateway-Timestamp", ""),
                self.headers.get("X-Gateway-Signature", ""),
                body,
                time.time(),
            )
            got = Received(self.headers.get("Idempotency-Key", ""), json.loads(body), signed, self.path)
            with rec.lock:
                rec.received.append(got)
                first, held["first"] = held["first"], False
            rec.arrived.set()
            if first and rec.hold is not None:
                rec.hold.wait(30)
            self.send_response(rec.respond(got))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        if rec.hold is not None:
            rec.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def jobs_config(
    webhooks: dict[str, str] | None = None,
    *,
    schedules: dict[str, str | None] | None = None,
    worker: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JobsConfig as plain data: every schedule off unless given; quiet hours off; fast timers."""
    off = dict.fromkeys(
        (
            "segments_refresh",
            "reminders_schedule",
            "channel_offers",
            "outbox_deliver",
            "retention",
            "models_retrain",
        )
    )
    return {
        "worker": {"heartbeat_timeout_s": 3, "retry_initial_s": 0.2, "retry_max_s": 1, **(worker or {})},
        "schedules": {**off, **(schedules or {})},
        "delivery": {
            "webhooks": {ch: {"url": url, "secret": WEBHOOK_SECRET} for ch, url in (webhooks or {}).items()},
            "quiet_start": None,
            "quiet_end": None,
            "lease_s": 1,
            "retry_initial_s": 0.2,
            "retry_max_s": 1,
            "run_budget_s": 20,
            **(delivery or {}),
        },
    }


@contextmanager
def worker_process(dsn: str, tmp_path: Path, config: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    """`gateway worker` in its own process group (so a test can SIGKILL it whole)."""
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_JWT_SECRET": TEST_SECRET,
        "GATEWAY_DATA_DIR": str(tmp_path / "worker-data"),
        "GATEWAY_JOBS": json.dumps(config),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker", "--no-migrate"], env=env, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


async def until(check: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; fail with `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = check()
        if inspect.isawaitable(out):
            out = await out
        if out:
            return out
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def fetchval(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def message(uid: int, channel: str, n: int, item_id: int = 20) -> NewMessage:
    """Message n for a person on a channel, with a minimal reminder decision record."""
    purpose = f"marketing.communications.{channel}"
    record = DecisionRecord(
        surface=channel,
        subject_kind="reminder",
        subject_id=str(item_id),
        mode=Mode.PERSONALIZED,
        summary=f"message {n}",
        reasons=(Reason(ReasonCode.REPURCHASE_DUE, f"message {n}", 1.0),),
        signal_sources=(SignalSource.YOUR_ACTIVITY_HERE,),
        data_categories=("user.behavior.purchase_history",),
        purposes=(purpose,),
        consent_snapshot_id="test",
        generated_at=datetime.now(UTC),
    )
    return NewMessage(
        uid, "reminder", channel, purpose, Source.BEHAVIOURAL, f"test:{n}", f"message {n}", record
    )


async def enqueue_job(dsn: str, name: str, dedupe: bool = True) -> int | None:
    """Queue a job as `gateway jobs run` does."""
    from pgqueuer import AsyncpgDriver, Queries

    from jobs.queue import enqueue

    conn = await asyncpg.connect(dsn)
    try:
        return await enqueue(Queries(AsyncpgDriver(conn)), name, dedupe=dedupe)
    finally:
        await conn.close()


async def queue(pool: asyncpg.Pool, messages: list[NewMessage]) -> int:
    """Queue messages as a job does: through a BatchGuard holding the people's snapshots."""
    ids = sorted({m.user_id for m in messages})
    guard = BatchGuard(pool, Principal(Role.ADMIN, "test"), "test", await load_snapshots(pool, ids, False))
    queued = await queue_messages(guard, messages)
    await guard.flush()
    return queued

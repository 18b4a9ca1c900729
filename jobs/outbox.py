"""The notification outbox (migration 0320): messages are queued together with the decision
records that made them, and claimed for delivery under a per-person lock.

Queueing: one statement writes the outbox rows and their decision records, so a message never
exists without the record its `why` was rendered from, nor a record for a message that was not
queued (a dedupe key already used skips both). The person's account is locked FOR KEY SHARE, so a
concurrent erasure leaves nothing behind.

Every read and write about a person goes through a BatchGuard (privacy/snapshots.py): only for
people whose own consent snapshot allows it, and audited. Queueing a message needs its purpose on
its kind of data.

Claiming (one short transaction, no network inside): the due messages are locked with SKIP
LOCKED, then their people FOR NO KEY UPDATE SKIP LOCKED, so each person is handled by one claimer
at a time (the per-person cap holds with any number of workers) and never while a consent change
or an erasure of them is in flight; the consent snapshot, subscription and recent sends are read
under that lock, each message gets its verdict (jobs/delivery_rules.py), and the verdicts are
written. Sending happens after the commit; the sink's answer is recorded with the claim's token,
so a slow worker whose lease ran out cannot overwrite the claim that replaced it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from jobs.config import DeliveryConfig
from jobs.delivery_rules import Action, Facts, Verdict
from jobs.sinks import Outgoing, SendResult
from privacy.i18n import DEFAULT, Language, localize
from privacy.principal import Principal
from privacy.purposes import ESSENTIAL, Source
from privacy.snapshots import BatchGuard, load_snapshots
from resolvers.explain.record import DecisionRecord
from sql import load_queries

Q = load_queries()
KINDS = frozenset({"reminder", "key_date", "channel_offer"})


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue, with the decision record that made it."""

    user_id: int
    kind: str
    channel: str
    purpose: str
    source: Source
    dedupe_key: str
    text: str  # in `language` (the decision record keeps English)
    record: DecisionRecord
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    language: Language = DEFAULT  # the person's stored language: the why is rendered in it
    # What the receiver needs beyond the text and why (a channel offer: the offer), sent as is.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown message kind {self.kind!r}")


def why_of(record: DecisionRecord, language: Language = DEFAULT) -> dict[str, Any]:
    """The message's why, rendered from its decision record (the same fields `Why` shows), its
    texts in `language`."""
    return {
        "decisionId": str(record.decision_id),
        "mode": record.mode.value,
        "summary": localize(record.summary, language),
        "reasons": [{"code": r.code.value, "text": localize(r.text, language)} for r in record.reasons],
        "signalSources": [s.value for s in record.signal_sources],
        "dataCategories": list(record.data_categories),
        "purposes": list(record.purposes),
        "matchedCriteria": [localize(c, language) for c in record.matched_criteria],
        "controls": [
            {
                "kind": c.kind.value,
                "label": localize(c.label, language),
                "purpose": c.purpose,
                "target": c.target,
            }
            for c in record.controls
        ],
        "consentSnapshotId": record.consent_snapshot_id,
        "generatedAt": record.generated_at.isoformat(),
    }


async def queue_messages(guard: BatchGuard, messages: Sequence[NewMessage]) -> int:
    """Queue messages with their decision records (one statement per purpose: a message and its
    record always together), for the people whose snapshot in `guard` allows the message's
    purpose on its kind of data; returns how many were new."""
    groups: dict[tuple[str, Source], list[NewMessage]] = defaultdict(list)
    for x in messages:
        groups[(x.purpose, x.source)].append(x)
    queued = 0
    for (purpose, source), group in groups.items():
        allowed = set(guard.allowed(sorted({x.user_id for x in group}), purpose, source))
        m = [x for x in group if x.user_id in allowed]
        if not m:
            continue
        row = await guard.write(
            Q.outbox_queue,
            sorted(allowed),
            purpose=purpose,
            tables=("outbox", "decisions"),
            people=[x.user_id for x in m],
            message_ids=[x.message_id for x in m],
            kinds=[x.kind for x in m],
            channels=[x.channel for x in m],
            purposes=[x.purpose for x in m],
            sources=[x.source.value for x in m],
            dedupe_keys=[x.dedupe_key for x in m],
            decision_ids=[x.record.decision_id for x in m],
            messages=[{**x.extra, "text": x.text, "why": why_of(x.record, x.language)} for x in m],
            surfaces=[x.record.surface for x in m],
            subject_kinds=[x.record.subject_kind for x in m],
            subject_ids=[x.record.subject_id for x in m],
            modes=[x.record.mode.value for x in m],
            records=[x.record.to_json() for x in m],
            snapshot_ids=[x.record.consent_snapshot_id for x in m],
            generated_ats=[x.record.generated_at for x in m],
        )
        assert row is not None
        queued += int(row["queued"])
    return queued


@dataclass(frozen=True, slots=True)
class Claimed:
    outgoing: Outgoing
    token: uuid.UUID
    purpose: str
    attempts: int


@dataclass(frozen=True, slots=True)
class ClaimRound:
    claimed: list[Claimed]
    people: list[int]  # the people whose messages this round decided on
    cancelled: int = 0
    waiting: int = 0
    candidates: int = 0


def outgoing_of(row: asyncpg.Record) -> Outgoing:
    message = row["message"]
    body = {
        "idempotencyKey": str(row["message_id"]),
        "messageId": str(row["message_id"]),
        "userId": str(row["user_id"]),
        "kind": row["kind"],
        "channel": row["channel"],
        "text": message["text"],
        "why": message["why"],
        "decisionId": str(row["decision_id"]),
        "queuedAt": row["created_at"].isoformat(),
    }
    if "offer" in message:  # a channel offer: which offer to show
        body["offer"] = message["offer"]
    return Outgoing(row["user_id"], str(row["message_id"]), row["channel"], body)


async def claim(
    pool: asyncpg.Pool,
    principal: Principal,
    request_id: str,
    config: DeliveryConfig,
    now: datetime,
    decide: Callable[[Facts, DeliveryConfig, datetime], Verdict],
) -> tuple[ClaimRound, BatchGuard]:
    """One claim round; the guard that read and wrote it (its audit still to flush)."""
    async with pool.acquire() as conn, conn.transaction():
        candidates = await conn.fetch(Q.outbox_claim_candidates, config.batch)
        ids = sorted({c["user_id"] for c in candidates})
        guard = BatchGuard(pool, principal, request_id, await load_snapshots(conn, ids, False))
        if not candidates:
            return ClaimRound([], []), guard
        locked = await guard.fetch(
            Q.outbox_lock_people, ids, purpose=ESSENTIAL, source=Source.ACCOUNT, tables=("users",), conn=conn
        )
        people = {r["user_id"]: r for r in locked}
        if not people:
            return ClaimRound([], [], candidates=len(candidates)), guard
        # Read again under the lock: a consent change that committed meanwhile is seen now.
        fresh = BatchGuard(pool, principal, request_id, await load_snapshots(conn, list(people), False))
        fresh.audit = guard.audit
        guard = fresh
        mine = [c["message_id"] for c in candidates if c["user_id"] in people]
        rows = await guard.fetch(
            Q.outbox_claim_rows,
            list(people),
            mine,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("outbox", "user_channels"),
            conn=conn,
        )
        window_s = config.cap_window_hours * 3600
        recent = await guard.fetch(
            Q.outbox_recent_sends,
            list(people),
            window_s,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("outbox",),
            conn=conn,
        )
        sends = {r["user_id"]: (int(r["sends"]), r["oldest"]) for r in recent}
        verdicts: list[tuple[asyncpg.Record, Verdict, uuid.UUID | None]] = []
        for row in rows:
            uid = row["user_id"]
            person = people[uid]
            count, oldest = sends.get(uid, (0, None))
            claimed_before = row["claimed_at"] is not None
            verdict = decide(
                Facts(
                    channel=row["channel"],
                    purpose=row["purpose"],
                    source=Source(row["source"]),
                    claimed_before=claimed_before,
                    snapshot=guard.snapshots.get(uid),
                    preferred_channel=person["preferred_channel"],
                    subscribed=row["subscribed"],
                    time_zone=person["time_zone"],
                    sends_in_window=count,
                    oldest_in_window=oldest,
                ),
                config,
                now,
            )
            if verdict.action is Action.SEND and not claimed_before:
                sends[uid] = (count + 1, oldest or now)
            token = uuid.uuid4() if verdict.action is Action.SEND else None
            verdicts.append((row, verdict, token))
        if verdicts:
            await guard.write(
                Q.outbox_apply_verdicts,
                sorted({r["user_id"] for r, _, _ in verdicts}),
                [r["user_id"] for r, _, _ in verdicts],
                [r["message_id"] for r, _, _ in verdicts],
                [v.action.value for _, v, _ in verdicts],
                [v.not_before for _, v, _ in verdicts],
                [t for _, _, t in verdicts],
                [v.reason for _, v, _ in verdicts],
                config.lease_s,
                purpose=ESSENTIAL,
                tables=("outbox",),
                conn=conn,
            )
    claimed = [
        Claimed(outgoing_of(r), t, r["purpose"], r["attempts"] + 1)
        for r, v, t in verdicts
        if v.action is Action.SEND and t is not None
    ]
    round_ = ClaimRound(
        claimed=claimed,
        people=sorted(people),
        cancelled=sum(v.action is Action.CANCEL for _, v, _ in verdicts),
        waiting=sum(v.action is Action.WAIT for _, v, _ in verdicts),
        candidates=len(candidates),
    )
    return round_, guard


def backoff_s(config: DeliveryConfig, attempts: int) -> float:
    return float(min(config.retry_initial_s * 2 ** max(0, attempts - 1), config.retry_max_s))


async def record_results(
    guard: BatchGuard, config: DeliveryConfig, results: Sequence[tuple[Claimed, SendResult]]
) -> None:
    sent = [c for c, r in results if r.ok]
    failed = [(c, r) for c, r in results if not r.ok]
    if sent:
        await guard.write(
            Q.outbox_mark_sent,
            sorted({c.outgoing.user_id for c in sent}),
            [c.outgoing.user_id for c in sent],
            [uuid.UUID(c.outgoing.message_id) for c in sent],
            [c.token for c in sent],
            purpose=ESSENTIAL,
            tables=("outbox",),
        )
    if failed:
        await guard.write(
            Q.outbox_mark_failed,
            sorted({c.outgoing.user_id for c, _ in failed}),
            [c.outgoing.user_id for c, _ in failed],
            [uuid.UUID(c.outgoing.message_id) for c, _ in failed],
            [c.token for c, _ in failed],
            [r.permanent for _, r in failed],
            [backoff_s(config, c.attempts) for c, _ in failed],
            [r.error for _, r in failed],
            config.max_attempts,
            purpose=ESSENTIAL,
            tables=("outbox",),
        )

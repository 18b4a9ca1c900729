"""The data export (GDPR Art. 15 access / Art. 20 portability): one machine-readable JSON bundle
of everything kept about the user, read through the guard (purpose essential.service, audit
action `export`) so the export itself is in the audit log.

Size is bounded so one call stays cheap whatever the history: the newest EVENTS_MAX events,
DECISIONS_MAX decisions, MESSAGES_MAX messages and HISTORY_MAX consent receipts, each section
with the total count, so the user can see when a list was cut. Rollups (signals, per-category
stats, frequency counters, audit summary) are complete: they are small by construction. The
`retention` section says how long each kind of record is kept (privacy/retention.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from privacy.guard import Guard
from privacy.profile_fields import FIELDS
from privacy.purposes import ESSENTIAL, PURPOSES, Source
from privacy.retention import DEFAULT_RETENTION, UNTIL_ERASURE, RetentionPolicy
from sql import load_queries

Q = load_queries()
FORMAT = "gateway-export/1"
EVENTS_MAX = 1000
DECISIONS_MAX = 200
MESSAGES_MAX = 200
HISTORY_MAX = 1000


def plain(value: Any) -> Any:
    """JSON-ready: times as ISO 8601 (UTC), ids as strings, decimals as numbers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _rows(rows: Sequence[asyncpg.Record], skip: Sequence[str] = ()) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in r.items() if k not in skip} for r in rows]


async def build_export(
    guard: Guard,
    user_id: int,
    inferences: list[dict[str, Any]],
    retention: RetentionPolicy = DEFAULT_RETENTION,
) -> dict[str, Any]:
    """The bundle. `inferences` are the derived tags and segments with their logic, described by
    the personalization domain (resolvers sit above privacy, so they are passed in); `retention`
    is the policy in force (the retention job enforces the same one)."""

    # One connection and one repeatable-read snapshot: every section (and each total next to its
    # items) describes the same moment, not 13 separate ones.
    async with guard.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read_all(guard, user_id, conn, inferences, retention)


async def _read_all(
    guard: Guard,
    user_id: int,
    conn: asyncpg.Connection,
    inferences: list[dict[str, Any]],
    retention: RetentionPolicy,
) -> dict[str, Any]:
    async def read(query: str, *args: Any, tables: tuple[str, ...], source: Source) -> list[asyncpg.Record]:
        return await guard.fetch(
            query,
            user_id,
            *args,
            purpose=ESSENTIAL,
            source=source,
            tables=tables,
            subject_user_id=user_id,
            action="export",
            conn=conn,
        )

    account = await read(Q.export_account, tables=("users",), source=Source.ACCOUNT)
    profile = await read(Q.profile_fields, tables=("profile_fields",), source=Source.STATED)
    consents = await read(Q.export_consents, tables=("consents",), source=Source.ACCOUNT)
    history = await read(Q.consent_history, HISTORY_MAX, tables=("consent_events",), source=Source.ACCOUNT)
    channels = await read(Q.export_channels, tables=("user_channels",), source=Source.ACCOUNT)
    hidden = await read(Q.export_hidden_inferences, tables=("user_controls",), source=Source.STATED)
    controls = await read(Q.export_controls, tables=("user_controls",), source=Source.STATED)
    events = await read(Q.export_events, EVENTS_MAX, tables=("events", "items"), source=Source.BEHAVIOURAL)
    signals = await read(
        Q.export_signals,
        tables=(
            "user_signals",
            "user_spend_days",
            "user_purchases",
            "user_cart",
            "user_features",
            "user_searches",
        ),
        source=Source.BEHAVIOURAL,
    )
    categories = await read(
        Q.export_category_stats, tables=("user_category_stats",), source=Source.BEHAVIOURAL
    )
    # The analysts' segment membership rollup (migration 0060) is stored inference too.
    memberships = await read(Q.export_segment_members, tables=("segment_members",), source=Source.DERIVED)
    # Experiments the person was exposed to (their first exposure, migration 0400).
    exposures = await read(
        Q.export_experiment_exposures,
        tables=("experiment_exposures", "experiments"),
        source=Source.BEHAVIOURAL,
    )
    decisions = await read(Q.export_decisions, DECISIONS_MAX, tables=("decisions",), source=Source.DERIVED)
    impressions = await read(Q.export_impression_counts, tables=("impressions",), source=Source.BEHAVIOURAL)
    audit = await read(Q.export_audit_summary, tables=("audit_log",), source=Source.ACCOUNT)
    messages = await read(Q.export_messages, MESSAGES_MAX, tables=("outbox",), source=Source.ACCOUNT)

    event_rows = [r for r in events if r["event_id"] is not None]
    return {
        "format": FORMAT,
        "generatedAt": plain(datetime.now(UTC)),
        "subject": {"userId": str(user_id)},
        "limits": {
            "events": EVENTS_MAX,
            "decisions": DECISIONS_MAX,
            "messages": MESSAGES_MAX,
            "consentHistory": HISTORY_MAX,
        },
        "retention": {
            "periods": retention.periods(),
            "untilErasure": dict(UNTIL_ERASURE),
        },
        "account": _rows(account)[0] if account else None,
        "profile": [
            {
                **row,
                "why": FIELDS[row["field"]].why if row["field"] in FIELDS else None,
            }
            for row in _rows(profile)
        ],
        "consent": {
            "current": _rows(consents),
            "history": _rows(history),
            "notices": {
                k: {
                    "title": p.title,
                    "notice": p.notice_text,
                    "retention": p.retention_text(retention),
                    "version": p.version,
                }
                for k, p in PURPOSES.items()
            },
        },
        "channels": _rows(channels),
        "controls": _rows(controls),
        "inferences": {
            "items": inferences,
            "hidden": _rows(hidden),
            "storedSegmentMemberships": _rows(memberships),
        },
        "decisions": {
            "total": decisions[0]["total"] if decisions else 0,
            "items": _rows(decisions, skip=("total",)),
        },
        "frequencyCounters": _rows(impressions),
        "experimentExposures": _rows(exposures),
        "messages": {
            "total": messages[0]["total"] if messages else 0,
            "items": _rows(messages, skip=("total",)),
        },
        "events": {
            "total": events[0]["total"] if events else 0,
            "byType": plain(events[0]["by_type"]) if events else {},
            "items": _rows(event_rows, skip=("total", "by_type")),
        },
        "signals": _rows(signals)[0] if signals else None,
        "categoryStats": _rows(categories),
        "readsOfYourData": _rows(audit),
    }

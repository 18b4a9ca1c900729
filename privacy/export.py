"""The data export (GDPR Art. 15 access / Art. 20 portability): one machine-readable JSON bundle
of everything kept about the user, read through the guard (purpose essential.service, audit
action `export`) so the export itself is in the audit log.

Two forms of the same bundle:
- inline (`requestDataExport`): the newest EVENTS_MAX events, DECISIONS_MAX decisions,
  MESSAGES_MAX messages and HISTORY_MAX consent receipts, each with its total and `complete`,
  so one GraphQL answer stays small; when a list is cut the bundle carries a short-lived link;
- complete (`stream_export`, served at /v1/export/{link}): every row, the long lists read
  through server-side cursors in pages of CURSOR_PAGE and written out as they are read, so the
  gateway's memory stays flat whatever the history (tests/test_export.py measures it).
Events name their item (name and category) and say whether they are sensitive; sensitive
profile fields are marked too. Rollups (signals, per-category stats, frequency counters, audit
summary) are small by construction. The `retention` section says how long each kind of record
is kept (privacy/retention.py). EXPORT_TABLES lists every table the export reads; a test
compares it with every table of the schema that holds a user id.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from privacy.guard import Guard
from privacy.profile_fields import FIELDS
from privacy.purposes import ESSENTIAL, PURPOSES, Source
from privacy.retention import DEFAULT_RETENTION, UNTIL_ERASURE, RetentionPolicy
from sql import load_queries

Q = load_queries()
FORMAT = "gateway-export/2"  # 2: long lists as {complete, total, items}; eventsByType
EVENTS_MAX = 1000
DECISIONS_MAX = 200
MESSAGES_MAX = 200
HISTORY_MAX = 1000
CURSOR_PAGE = 500
EXPORT_PATH = "/v1/export"
LINK_TTL = timedelta(minutes=10)
# Every table the export reads (the complete form), by section.
EXPORT_TABLES = frozenset(
    {
        "users",
        "profile_fields",
        "consents",
        "consent_events",
        "user_channels",
        "user_controls",
        "user_customization",
        "experiment_exposures",
        "experiments",
        "events",
        "items",
        "offers",
        "segments",
        "user_signals",
        "user_spend_days",
        "user_purchases",
        "user_cart",
        "user_features",
        "user_searches",
        "user_category_stats",
        "segment_members",
        "decisions",
        "impressions",
        "audit_log",
        "outbox",
        "export_links",
    }
)
# The long lists of the complete form: section -> (query, tables, source).
_STREAMED: dict[str, tuple[str, tuple[str, ...], Source]] = {
    "events": (Q.export_events_all, ("events", "items"), Source.BEHAVIOURAL),
    "decisions": (Q.export_decisions_all, ("decisions", "items", "offers"), Source.DERIVED),
    "messages": (Q.export_messages_all, ("outbox",), Source.ACCOUNT),
    "consentHistory": (Q.export_consent_history_all, ("consent_events",), Source.ACCOUNT),
}
_SLOT = "\u0000stream:{}\u0000"


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
    """The inline bundle. `inferences` are the derived tags and segments with their logic,
    described by the personalization domain (resolvers sit above privacy, so they are passed
    in); `retention` is the policy in force (the retention job enforces the same one)."""

    # One connection and one repeatable-read snapshot: every section (and each total next to its
    # items) describes the same moment, not 13 separate ones.
    async with guard.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read_all(guard, user_id, conn, inferences, retention)


async def stream_export(
    guard: Guard,
    user_id: int,
    inferences: list[dict[str, Any]],
    retention: RetentionPolicy = DEFAULT_RETENTION,
) -> AsyncIterator[bytes]:
    """The complete bundle as JSON, written piece by piece: the small sections first, then each
    long list read through a cursor, CURSOR_PAGE rows at a time, from the same snapshot. The
    caller flushes the guard's audit entries when the stream ends."""
    async with guard.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        bundle = await _read_all(guard, user_id, conn, inferences, retention, streamed=True)
        text = orjson.dumps(bundle).decode()
        slots = {s: orjson.dumps(_SLOT.format(s)).decode() for s in _STREAMED}
        for section in sorted(_STREAMED, key=lambda s: text.index(slots[s])):  # in written order
            query, tables, source = _STREAMED[section]
            slot = slots[section]
            head, text = text.split(slot, 1)
            yield head.encode()
            guard.check(ESSENTIAL, source, user_id)
            guard.record(ESSENTIAL, tables, user_id, "export")
            yield b'{"complete":true,"items":['
            total = 0
            page: list[bytes] = []
            async for row in conn.cursor(query, user_id, prefetch=CURSOR_PAGE):
                page.append(orjson.dumps({k: plain(v) for k, v in row.items()}))
                total += 1
                if len(page) == CURSOR_PAGE:
                    yield (b"," if total > CURSOR_PAGE else b"") + b",".join(page)
                    page = []
            if page:
                yield (b"," if total > len(page) else b"") + b",".join(page)
            yield b'],"total":' + str(total).encode() + b"}"
        yield text.encode()


async def create_link(guard: Guard, user_id: int, now: datetime | None = None) -> tuple[str, datetime] | None:
    """A new link token to the complete export and when it expires (None: no account): the
    person's id and a secret, `<user id>.<secret>`. Only the secret's hash is stored, keyed by
    the person (so the table distributes by user id, sql/citus.py)."""
    secret = secrets.token_urlsafe(32)
    expires = (now or datetime.now(UTC)) + LINK_TTL
    written = await guard.write(
        Q.create_export_link,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("export_links",),
        subject_user_id=user_id,
        token_hash=link_hash(secret),
        expires_at=expires,
    )
    return (f"{user_id}.{secret}", written[0]["expires_at"]) if written else None


def link_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def link_owner(pool: asyncpg.Pool, token: str) -> int | None:
    """Whose export a link opens while it is valid; None for an unknown or expired link."""
    user, _, secret = token.partition(".")
    if not secret or len(token) > 100 or not (user.isascii() and user.isdigit()) or len(user) > 18:
        return None
    owner = await pool.fetchval(Q.export_link_owner, int(user), link_hash(secret))
    return int(owner) if owner is not None else None


async def _read_all(
    guard: Guard,
    user_id: int,
    conn: asyncpg.Connection,
    inferences: list[dict[str, Any]],
    retention: RetentionPolicy,
    streamed: bool = False,
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
    history = (
        []
        if streamed
        else await read(Q.consent_history, HISTORY_MAX + 1, tables=("consent_events",), source=Source.ACCOUNT)
    )
    channels = await read(Q.export_channels, tables=("user_channels",), source=Source.ACCOUNT)
    hidden = await read(Q.export_hidden_inferences, tables=("user_controls",), source=Source.STATED)
    controls = await read(
        Q.export_controls, tables=("user_controls", "items", "offers", "segments"), source=Source.STATED
    )
    events = await read(
        Q.export_events, 0 if streamed else EVENTS_MAX, tables=("events", "items"), source=Source.BEHAVIOURAL
    )
    customization = await read(Q.export_customization, tables=("user_customization",), source=Source.STATED)
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
    decisions = (
        []
        if streamed
        else await read(
            Q.export_decisions, DECISIONS_MAX, tables=("decisions", "items", "offers"), source=Source.DERIVED
        )
    )
    impressions = await read(
        Q.export_impression_counts, tables=("impressions", "offers"), source=Source.BEHAVIOURAL
    )
    audit = await read(Q.export_audit_summary, tables=("audit_log",), source=Source.ACCOUNT)
    messages = (
        []
        if streamed
        else await read(Q.export_messages, MESSAGES_MAX, tables=("outbox",), source=Source.ACCOUNT)
    )
    links = await read(Q.export_links_of_user, tables=("export_links",), source=Source.ACCOUNT)

    def listed(section: str, rows: list[dict[str, Any]], total: int) -> Any:
        """A long list: inline with its total, or the slot the stream fills."""
        if streamed:
            return _SLOT.format(section)
        return {"complete": len(rows) >= total, "total": total, "items": rows}

    event_rows = [r for r in events if r["event_id"] is not None]
    event_total = events[0]["total"] if events else 0
    history_rows = _rows(history[:HISTORY_MAX])
    decision_total = decisions[0]["total"] if decisions else 0
    message_total = messages[0]["total"] if messages else 0
    complete = streamed or (
        len(event_rows) >= event_total
        and len(history) <= HISTORY_MAX
        and len(decisions) >= decision_total
        and len(messages) >= message_total
    )
    return {
        "format": FORMAT,
        "generatedAt": plain(datetime.now(UTC)),
        "subject": {"userId": str(user_id)},
        "complete": complete,
        "limits": None
        if streamed
        else {
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
                "sensitive": FIELDS[row["field"]].sensitive if row["field"] in FIELDS else False,
            }
            for row in _rows(profile)
        ],
        "consent": {
            "current": _rows(consents),
            "history": listed(
                "consentHistory", history_rows, len(history_rows) + (len(history) > HISTORY_MAX)
            ),
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
        # The person's own settings (theme, colour, text size, density, layout, sections).
        "customization": _rows(customization)[0] if customization else None,
        "inferences": {
            "items": inferences,
            "hidden": _rows(hidden),
            "storedSegmentMemberships": _rows(memberships),
        },
        "decisions": listed("decisions", _rows(decisions, skip=("total",)), decision_total),
        "frequencyCounters": _rows(impressions),
        "experimentExposures": _rows(exposures),
        "messages": listed("messages", _rows(messages, skip=("total",)), message_total),
        "eventsByType": plain(events[0]["by_type"]) if events else {},
        "events": listed("events", _rows(event_rows, skip=("total", "by_type")), event_total),
        "exportLinks": _rows(links),
        "signals": _rows(signals)[0] if signals else None,
        "categoryStats": _rows(categories),
        "readsOfYourData": _rows(audit),
    }

"""Segment membership rollup (`segment_members`): which users are in which live segment, so the
analyst SEGMENT dimension counts rows instead of evaluating rules per query.

Membership is decided by `segment_match`, the one evaluator offers and simulateSegment use, over
the same attribute values (`attribute_values`), so a stored row means exactly "offer targeting
would match this user". Consent comes from each user's own snapshot: a user whose snapshot does
not allow the inference (marketing.offers on derived data, the rule `segment_match` applies)
is not read at all and keeps no rows; behavioural facts are read only when the snapshot allows
them (as `load_user_facts` does); a hidden 'segment:<id>' never matches, so it is never stored.

Batched: one page of users (default 5,000) costs four reads, one write (unnest) and one audit
flush. Creating or updating a segment refreshes that segment's rows (fine for small worlds; large
worlds turn that off with `personalization.refresh_segment_members_on_save` and run
`gateway refresh-segments` periodically)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from privacy.consent import ConsentSnapshot
from privacy.guard import Guard
from privacy.principal import Principal
from privacy.purposes import ESSENTIAL, OFFERS, Source
from privacy.snapshots import load_snapshots
from resolvers.config import DomainConfig
from resolvers.model.catalog import CATALOG, Catalog
from resolvers.model.facts import UserFacts, attribute_values
from resolvers.model.signals import parse_signals
from resolvers.offers.rules import SegmentVersion, segment_match
from sql import load_queries

Q = load_queries()
BATCH_USERS = 5000


@dataclass(frozen=True, slots=True)
class RefreshCounts:
    users: int  # users evaluated (their consent allows the inference)
    skipped: int  # users whose consent does not: nothing read, nothing stored
    memberships: int  # (user, segment) matches stored
    changed: int  # rows written or removed


async def live_segments(conn: asyncpg.Pool | asyncpg.Connection) -> dict[int, SegmentVersion]:
    rows = await conn.fetch(Q.current_segments)
    return {
        r["segment_id"]: SegmentVersion(r["segment_id"], r["name"], r["current_version"], r["rule"])
        for r in rows
    }


async def refresh_members(
    pool: asyncpg.Pool,
    principal: Principal,
    config: DomainConfig,
    *,
    segment_ids: Sequence[int] | None = None,
    batch_users: int = BATCH_USERS,
    request_id: str | None = None,
) -> RefreshCounts:
    """Re-evaluate the live segments (all, or `segment_ids`) for every user, page by page."""
    segments = await live_segments(pool)
    if segment_ids is not None:
        segments = {k: v for k, v in segments.items() if k in set(segment_ids)}
    catalog = await CATALOG.get(pool, config.personalization.catalog_ttl_s)
    guard = Guard(pool, principal, request_id or str(uuid.uuid4()), ConsentSnapshot(user_id=None))
    total = RefreshCounts(0, 0, 0, 0)
    after = 0
    while segments:
        ids = [r["user_id"] for r in await pool.fetch(Q.segment_refresh_users, after, batch_users)]
        if not ids:
            break
        after = ids[-1]
        counts = await _refresh_page(pool, guard, config, catalog, segments, ids)
        await guard.flush()
        total = RefreshCounts(*(a + b for a, b in zip(_tuple(total), _tuple(counts), strict=True)))
    if segment_ids is None:
        pruned = await pool.execute(Q.prune_segment_members)
        total = RefreshCounts(total.users, total.skipped, total.memberships, total.changed + _rows(pruned))
    if total.changed:
        await pool.execute(Q.bump_audience_version)
    return total


def _tuple(c: RefreshCounts) -> tuple[int, int, int, int]:
    return (c.users, c.skipped, c.memberships, c.changed)


def _rows(status: str) -> int:
    return int(status.split()[-1]) if status and status.split()[-1].isdigit() else 0


def _allowed(
    snapshots: dict[int, ConsentSnapshot], ids: Sequence[int], purpose: str, source: Source
) -> list[int]:
    """Users whose own snapshot allows reading `source` data for `purpose` (the Guard's rule)."""
    return [u for u in ids if u in snapshots and snapshots[u].refusal(purpose, source) is None]


async def _refresh_page(
    pool: asyncpg.Pool,
    guard: Guard,
    config: DomainConfig,
    catalog: Catalog,
    segments: dict[int, SegmentVersion],
    ids: list[int],
) -> RefreshCounts:
    snapshots = await load_snapshots(pool, ids, gpc=False)  # a stored GPC signal is in the consents
    # The inference itself: without it segment_match matches nothing, so nothing is read.
    eligible = _allowed(snapshots, ids, OFFERS, Source.DERIVED)
    behavioural = _allowed(snapshots, eligible, OFFERS, Source.BEHAVIOURAL)
    for u in eligible:
        guard.record(ESSENTIAL, ("users", "hidden_inferences"), u)
    for u in behavioural:
        guard.record(OFFERS, ("user_signals",), u)
    accounts = await pool.fetch(Q.segment_refresh_accounts, eligible) if eligible else []
    signal_rows = await pool.fetch(Q.segment_refresh_signals, behavioural) if behavioural else []
    signals = {r["user_id"]: r for r in signal_rows}
    readable = set(behavioural)
    now = datetime.now(UTC)
    window = config.personalization.spend_window_days
    fresh: list[tuple[int, int, int]] = []
    for account in accounts:
        uid = account["user_id"]
        facts = UserFacts(
            user_id=uid,
            created_at=account["created_at"],
            country=account["country"],
            platform=account["platform"],
            # As load_user_facts: no row is an empty snapshot; no consent is no snapshot at all.
            signals=parse_signals(signals.get(uid)) if uid in readable else None,
            hidden=frozenset(account["hidden"]),
        )
        consent = snapshots[uid]
        attrs = attribute_values(facts, consent, catalog, config.tags, now, window)
        for seg in segments.values():
            matched, _ = segment_match(seg, attrs, facts.hidden, consent)
            if matched:
                fresh.append((uid, seg.segment_id, seg.version))
    row = await pool.fetchrow(
        Q.replace_segment_members,
        ids,
        list(segments),
        [f[0] for f in fresh],
        [f[1] for f in fresh],
        [f[2] for f in fresh],
    )
    assert row is not None
    return RefreshCounts(
        users=len(accounts),
        skipped=len(ids) - len(eligible),
        memberships=len(fresh),
        changed=int(row["removed"]) + int(row["written"]),
    )

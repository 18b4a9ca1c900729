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

from privacy.principal import Principal
from privacy.purposes import ESSENTIAL, OFFERS, PROFILING, Source
from privacy.snapshots import BatchGuard
from resolvers.config import DomainConfig
from resolvers.model.catalog import Catalog
from resolvers.model.facts import AccountFacts, attribute_values, user_tags
from resolvers.model.propensity import ACTIVE_MODEL, decide_propensity, may_score
from resolvers.model.reference import REFERENCE
from resolvers.model.reference import catalog as load_catalog
from resolvers.model.signals import parse_activity
from resolvers.segments.rules import LIVE_SEGMENTS, SegmentVersion, segment_match
from sql import load_queries

Q = load_queries()
BATCH_USERS = 5000
ACCOUNT_TABLES = ("users", "user_controls")
ACTIVITY_TABLES = ("user_signals", "user_spend_days", "user_purchases", "user_cart", "user_category_stats",
                   "user_features", "user_searches")  # fmt: skip


@dataclass(frozen=True, slots=True)
class RefreshCounts:
    users: int  # users evaluated (their consent allows the inference)
    skipped: int  # users whose consent does not: nothing read, nothing stored
    memberships: int  # (user, segment) matches stored
    changed: int  # rows written or removed


async def live_segments(pool: asyncpg.Pool, ttl_s: float = 0.0) -> dict[int, SegmentVersion]:
    return await REFERENCE.get(pool, LIVE_SEGMENTS, ttl_s)


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
    REFERENCE.invalidate("segments")  # a job sees what was just saved, not a cached copy
    segments = await live_segments(pool)
    if segment_ids is not None:
        segments = {k: v for k, v in segments.items() if k in set(segment_ids)}
    catalog = await load_catalog(pool, config.model.reference_ttl_s)
    total = RefreshCounts(0, 0, 0, 0)
    request_id = request_id or str(uuid.uuid4())
    if segments:
        async for guard in BatchGuard.pages(pool, principal, request_id, batch_users):
            counts = await _refresh_page(pool, guard, config, catalog, segments, guard.user_ids)
            await guard.flush()
            total = RefreshCounts(*(a + b for a, b in zip(_tuple(total), _tuple(counts), strict=True)))
    if segment_ids is None:
        guard = BatchGuard(pool, principal, request_id, {})
        pruned = await guard.write(Q.prune_segment_members, [], purpose=OFFERS, tables=("segment_members",))
        total = RefreshCounts(total.users, total.skipped, total.memberships, total.changed + _count(pruned))
    # No data-version bump here: a bump only when rows change would show a membership change
    # through the DP cache. Released answers expire with the release period (privacy/dp/cache.py).
    return total


def _tuple(c: RefreshCounts) -> tuple[int, int, int, int]:
    return (c.users, c.skipped, c.memberships, c.changed)


def _count(row: asyncpg.Record | None) -> int:
    return int(row["removed"]) if row is not None else 0


async def _refresh_page(
    pool: asyncpg.Pool,
    guard: BatchGuard,
    config: DomainConfig,
    catalog: Catalog,
    segments: dict[int, SegmentVersion],
    ids: list[int],
) -> RefreshCounts:
    # The inference itself: without it segment_match matches nothing, so nothing is read.
    eligible = guard.allowed(ids, OFFERS, Source.DERIVED)
    accounts = await guard.fetch(
        Q.users_account_facts, eligible, purpose=ESSENTIAL, source=Source.ACCOUNT, tables=ACCOUNT_TABLES
    )
    # Activity is read once for users whose snapshot lets offers or profiling use it (the same
    # rows serve both, as in the user model); each purpose that uses it is audited.
    offer_ids = set(guard.allowed(eligible, OFFERS, Source.BEHAVIOURAL))
    profile_ids = set(guard.allowed(eligible, PROFILING, Source.BEHAVIOURAL))
    activity_rows = await guard.fetch(
        Q.users_activity, sorted(offer_ids), purpose=OFFERS, source=Source.BEHAVIOURAL, tables=ACTIVITY_TABLES
    )
    only_profiling = sorted(profile_ids - offer_ids)
    activity_rows += await guard.fetch(
        Q.users_activity, only_profiling, purpose=PROFILING, source=Source.BEHAVIOURAL, tables=ACTIVITY_TABLES
    )
    guard.record(sorted(profile_ids & offer_ids), PROFILING, ACTIVITY_TABLES)
    activity = {r["user_id"]: parse_activity(r) for r in activity_rows}
    now = datetime.now(UTC)
    window = config.model.spend_window_days
    scorer = await REFERENCE.get(pool, ACTIVE_MODEL, config.model.reference_ttl_s)
    fresh: list[tuple[int, int, int]] = []
    for account in accounts:
        uid = account["user_id"]
        consent = guard.snapshots[uid]
        hidden = frozenset(account["hidden"])
        signals = activity.get(uid)
        tags = user_tags(signals if uid in profile_ids else None, consent, hidden, config.tags, now)
        facts = AccountFacts(account["created_at"], account["country"], account["platform"])
        propensity = None
        if scorer is not None and signals is not None and uid in profile_ids and may_score(consent, hidden):
            propensity = decide_propensity(scorer, signals, consent, now)
        attrs = attribute_values(
            facts, signals if uid in offer_ids else None, tags, consent, catalog, now, window, propensity
        )
        for seg in segments.values():
            matched, _ = segment_match(seg, attrs, hidden, consent)
            if matched:
                fresh.append((uid, seg.segment_id, seg.version))
    row = await guard.write(
        Q.replace_segment_members,
        sorted({f[0] for f in fresh}),
        ids,
        list(segments),
        [f[0] for f in fresh],
        [f[1] for f in fresh],
        [f[2] for f in fresh],
        purpose=OFFERS,
        tables=("segment_members",),
    )
    assert row is not None
    return RefreshCounts(
        users=len(accounts),
        skipped=len(ids) - len(eligible),
        memberships=len(fresh),
        changed=int(row["removed"]) + int(row["written"]),
    )

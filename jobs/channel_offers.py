"""Channel offers: the offer `viewer { offers(surface: EMAIL|PUSH) }` would serve a person first,
queued in the outbox for their preferred channel.

Page by page through people (BatchGuard: each person's own consent snapshot decides what is read
about them, and every read is audited), for each person whose preferred channel is EMAIL or PUSH,
who is subscribed to it and whose consent allows the channel's marketing purpose
(`reminder_purpose`, the same check as reminders), the account, activity, tags and purchase
prediction are read under the purposes the snapshot allows, exactly as the user model reads them
for a request, and `qualify_offers` (resolvers/offers/rules.py, the function `viewer { offers }`
calls) decides which offers on the channel's surface qualify, in serving order: marketing
consent, level, minors, hidden offers and inferences, the rulebook's exclusions (already bought,
sensitive) all apply there, once.

A person gets at most one channel offer per period (configurable: UTC day, ISO week or month):
who already has one in the outbox for the current period is skipped before anything is served,
and the dedupe key `channel_offer:<offer id>:<period>` makes a racing second run a no-op. Else the
first qualifying offer that its frequency caps allow (`serve_offers`, the same statement
`viewer { offers }` records its impressions with: the offer's cap and the person's cap across
offers, under a lock on the person) gets an impression on the channel and is queued with its
decision record (jobs/outbox.py), its why rendered in the person's stored language. The job
does not enroll anyone in experiments (an enrollment is the person's own request's business).

Delivery, quiet hours, the cross-channel cap and the cancellation on a withdrawal, an unsubscribe
or an erasure are the outbox's, as for every message (jobs/delivery.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import asyncpg

from jobs.outbox import NewMessage, queue_messages
from jobs.reminders import stored_language
from privacy.i18n import localize
from privacy.principal import Principal, Role
from privacy.purposes import ESSENTIAL, OFFERS, PROFILING, Source
from privacy.snapshots import BatchGuard
from privacy.vocabulary import Channel
from resolvers.config import DomainConfig
from resolvers.model.controls import Controls
from resolvers.model.facts import AccountFacts, user_tags
from resolvers.model.propensity import ACTIVE_MODEL, decide_propensity, may_score
from resolvers.model.reference import REFERENCE
from resolvers.model.reference import catalog as load_catalog
from resolvers.model.signals import SignalSnapshot, parse_activity
from resolvers.model.surfaces import Surface
from resolvers.model.tags import tags_need_signals
from resolvers.model.user import ACTIVITY_TABLES
from resolvers.offers.rules import LIVE_OFFERS, Person, Qualified, qualify_offers
from resolvers.reminders.rules import reminder_purpose
from resolvers.segments.rules import LIVE_SEGMENTS
from sql import load_queries

Q = load_queries()
PRINCIPAL = Principal(Role.ADMIN, "worker:offers.channel")
ACCOUNT_TABLES = ("users", "user_channels", "user_controls")
BATCH_USERS = 2000
# The channels an offer is sent on, and the surface whose offers they carry.
SURFACES = {Channel.EMAIL: Surface.EMAIL, Channel.PUSH: Surface.PUSH}
Period = Literal["day", "week", "month"]


def period_label(at: datetime, period: Period) -> str:
    """The period `at` (UTC) falls in: 2026-11-25, 2026-W48 (ISO week) or 2026-11."""
    day = at.astimezone(UTC).date()
    if period == "day":
        return day.isoformat()
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def dedupe_key(offer_id: int, label: str) -> str:
    return f"channel_offer:{offer_id}:{label}"


@dataclass(frozen=True, slots=True)
class ChannelOfferCounts:
    people: int = 0  # with a preferred, subscribed EMAIL or PUSH channel
    allowed: int = 0  # whose consent allows the channel's purpose and offers at all
    qualified: int = 0  # with a qualifying offer and no channel offer yet in the period
    queued: int = 0  # new messages


async def schedule_channel_offers(
    pool: asyncpg.Pool,
    config: DomainConfig,
    period: Period = "week",
    *,
    batch_users: int = BATCH_USERS,
    now: datetime | None = None,
) -> ChannelOfferCounts:
    """Queue each eligible person's first offer for their channel (see the module doc)."""
    at = now or datetime.now(UTC)
    label = period_label(at, period)
    ttl = config.model.reference_ttl_s
    # A job sees what marketers just saved, not a worker's cached copy.
    REFERENCE.invalidate(LIVE_OFFERS.name)
    REFERENCE.invalidate(LIVE_SEGMENTS.name)
    live = await REFERENCE.get(pool, LIVE_OFFERS, ttl)
    offers = [o for o, _ in live.values() if o.surface in {s.value for s in SURFACES.values()}]
    if not offers:
        return ChannelOfferCounts()
    segments = await REFERENCE.get(pool, LIVE_SEGMENTS, ttl)
    catalog = await load_catalog(pool, ttl)
    scorer = await REFERENCE.get(pool, ACTIVE_MODEL, ttl)
    window = config.model.spend_window_days
    people = allowed = qualified_people = queued = 0
    page_id = lambda: f"job-channel-offers-{uuid.uuid4()}"  # noqa: E731
    async for guard in BatchGuard.pages(pool, PRINCIPAL, page_id, batch_users):
        ids = guard.user_ids
        rows = await guard.fetch(
            Q.outbox_offer_candidates,
            ids,
            [c.value for c in SURFACES],
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=ACCOUNT_TABLES,
        )
        accounts: dict[int, asyncpg.Record] = {}
        purposes: dict[int, str] = {}
        for r in rows:
            uid, channel = r["user_id"], Channel(r["preferred_channel"])
            consent = guard.snapshots[uid]
            purpose = reminder_purpose(consent, channel, frozenset({channel}), Source.ACCOUNT)
            if purpose is not None and consent.allows(OFFERS, Source.ACCOUNT):
                accounts[uid] = r
                purposes[uid] = purpose
        eligible = sorted(accounts)
        # Activity is read once for people whose snapshot lets offers or profiling use it (the
        # same rows serve both, as in the user model); each purpose that uses it is audited.
        offer_ids = set(guard.allowed(eligible, OFFERS, Source.BEHAVIOURAL))
        profile_ids = set(guard.allowed(eligible, PROFILING, Source.BEHAVIOURAL))
        activity_rows = await guard.fetch(
            Q.users_activity,
            sorted(offer_ids),
            purpose=OFFERS,
            source=Source.BEHAVIOURAL,
            tables=ACTIVITY_TABLES,
        )
        activity_rows += await guard.fetch(
            Q.users_activity,
            sorted(profile_ids - offer_ids),
            purpose=PROFILING,
            source=Source.BEHAVIOURAL,
            tables=ACTIVITY_TABLES,
        )
        guard.record(sorted(profile_ids & offer_ids), PROFILING, ACTIVITY_TABLES)
        activity = {r["user_id"]: parse_activity(r) for r in activity_rows}
        read_ids = offer_ids | profile_ids
        chosen: dict[int, list[Qualified]] = {}
        for uid in eligible:
            a = accounts[uid]
            consent = guard.snapshots[uid]
            controls = Controls.of(a["control_kinds"], a["control_targets"], a["control_created"])
            hidden = controls.hidden_inferences
            signals = activity.get(uid, SignalSnapshot()) if uid in read_ids else None
            profiling = signals if uid in profile_ids else None
            propensity = None
            if scorer is not None and profiling is not None and may_score(consent, hidden):
                propensity = decide_propensity(scorer, profiling, consent, at)
            person = Person(
                consent=consent,
                facts=AccountFacts(a["created_at"], a["country"], a["platform"]),
                offer_signals=signals if uid in offer_ids else None,
                profiling_signals=profiling if consent.allows(PROFILING, Source.DERIVED) else None,
                tags=user_tags(
                    profiling if tags_need_signals(consent, hidden) else None,
                    consent,
                    hidden,
                    config.tags,
                    at,
                    a["created_at"],
                ),
                propensity=propensity,
                controls=controls,
            )
            surface = SURFACES[Channel(a["preferred_channel"])].value
            q = qualify_offers(offers, segments, person, catalog, surface, config.offers, at, window)
            if q:
                chosen[uid] = q
        if chosen:
            done = await guard.fetch(
                Q.outbox_channel_offer_people,
                sorted(chosen),
                label,
                purpose=ESSENTIAL,
                source=Source.ACCOUNT,
                tables=("outbox",),
            )
            for r in done:
                del chosen[r["user_id"]]
        messages: list[NewMessage] = []
        for uid, qs in chosen.items():
            a = accounts[uid]
            channel = a["preferred_channel"]
            served = await guard.write_audited(
                Q.serve_offers,
                # Counting what we showed is account data, as for `viewer { offers }`.
                purpose=OFFERS,
                tables=("impressions",),
                a_subject=uid,
                offers=[q.offer.offer_id for q in qs],
                caps=[q.offer.cap_per_window for q in qs],
                windows=[q.offer.cap_window_hours or 1 for q in qs],
                channels=[channel] * len(qs),
                device=None,
                user_cap=config.offers.user_offer_cap,
                user_window_hours=config.offers.user_offer_cap_window_hours,
                max=1,
            )
            ids_served = {r["offer_id"] for r in served}
            first = next((q for q in qs if q.offer.offer_id in ids_served), None)
            if first is None:
                continue
            language = stored_language(a)
            offer_row = live[first.offer.offer_id][1]
            messages.append(
                NewMessage(
                    user_id=uid,
                    kind="channel_offer",
                    channel=channel,
                    purpose=purposes[uid],
                    source=Source.ACCOUNT,
                    dedupe_key=dedupe_key(first.offer.offer_id, label),
                    text=localize(first.record.summary, language),
                    record=first.record,
                    language=language,
                    extra={
                        "offer": {
                            "id": str(first.offer.offer_id),
                            "name": offer_row["name"],
                            "discountPct": offer_row["discount_pct"],
                            "itemId": str(first.offer.item_id) if first.offer.item_id is not None else None,
                        }
                    },
                )
            )
        queued += await queue_messages(guard, messages)
        await guard.flush()
        people += len(rows)
        allowed += len(eligible)
        qualified_people += len(chosen)
    return ChannelOfferCounts(people, allowed, qualified_people, queued)

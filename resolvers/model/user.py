"""The user model: one view of the person per GraphQL operation, read at most twice.

1. The account (`user_account`): flags, consent per purpose, subscribed channels and the person's
   controls, in one round trip, read when the operation first needs anything personal. It is
   account data (essential.service); the consent snapshot the guard enforces is built from it.
2. The activity (`user_activity`): the behavioural rollups, plus the interests they stated, read
   at most once, when the first surface asks for it under a purpose the snapshot allows.

Every surface decides from this view, so no fact is read twice whatever fields are selected. The
guard checks, before the read, that the asking purpose may use that kind of data, and records
one audit entry per purpose that uses it: a withdrawn consent means the data is not read at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from privacy.consent import ConsentSnapshot, Level
from privacy.guard import ACCOUNT_TABLES, Guard, load_account
from privacy.i18n import Language
from privacy.principal import Principal
from privacy.purposes import ANALYTICS, CONTENT, ESSENTIAL, OFFERS, PROFILING, Source
from privacy.vocabulary import Channel, Platform
from resolvers.model.catalog import Catalog
from resolvers.model.config import TagThresholds
from resolvers.model.controls import NO_CONTROLS, Controls
from resolvers.model.customization import Customization
from resolvers.model.facts import AccountFacts, attribute_values, user_tags
from resolvers.model.propensity import ACTIVE_MODEL, Propensity, decide_propensity, may_score
from resolvers.model.reference import REFERENCE
from resolvers.model.signals import SignalSnapshot, parse_activity, parse_interests
from resolvers.model.tags import Tags, tags_need_signals
from sql import load_queries

Q = load_queries()
ACTIVITY_TABLES = (
    "user_signals",
    "user_spend_days",
    "user_purchases",
    "user_cart",
    "user_category_stats",
    "user_features",
    "user_searches",
)
STATED_TABLES = ("profile_fields",)


@dataclass(frozen=True)
class Account:
    user_id: int
    created_at: datetime
    country: str | None
    platform: Platform | None
    preferred_channel: Channel | None
    subscribed: frozenset[Channel]
    controls: Controls
    time_zone: str = "UTC"  # IANA name; messages respect quiet hours in it (jobs/delivery_rules.py)
    customization: Customization | None = None  # what they chose for themself (None: nothing)
    language: Language | None = None  # the person's stored choice; None: Accept-Language decides

    @classmethod
    def of(cls, row: asyncpg.Record) -> Account:
        return cls(
            user_id=row["user_id"],
            created_at=row["created_at"],
            country=row["country"],
            platform=Platform(row["platform"]) if row["platform"] else None,
            preferred_channel=Channel(row["preferred_channel"]) if row["preferred_channel"] else None,
            subscribed=frozenset(Channel(c) for c in row["subscribed"]),
            controls=Controls.of(row["control_kinds"], row["control_targets"], row["control_created"]),
            time_zone=row.get("time_zone") or "UTC",
            customization=Customization.of_row(row),
            language=Language(row["language"]) if row.get("language") else None,
        )


@dataclass(frozen=True)
class _Activity:
    signals: SignalSnapshot | None  # None: not read (no purpose allowed it)
    interests: tuple[str, ...] | None  # None: not read


class UserModel:
    """The person behind this operation, as every surface sees them."""

    def __init__(
        self,
        guard: Guard,
        account: Account | None,
        now: datetime | None = None,
        reference_ttl_s: float = 30.0,
    ) -> None:
        self.guard = guard
        self.account = account
        # One clock per operation: every surface decides "now" alike.
        self.now = now or datetime.now(UTC)
        self.reference_ttl_s = reference_ttl_s
        self._activity: asyncio.Future[_Activity] | None = None
        self._with_behaviour = False
        self._tags: asyncio.Future[Tags] | None = None
        self._propensity: asyncio.Future[Propensity | None] | None = None

    @classmethod
    async def load(
        cls,
        pool: asyncpg.Pool,
        principal: Principal,
        request_id: str,
        gpc: bool,
        reference_ttl_s: float = 30.0,
    ) -> UserModel:
        snapshot, row = await load_account(pool, principal.user_id, gpc)
        guard = Guard(pool, principal, request_id, snapshot)
        account = None
        if row is not None:
            account = Account.of(row)
            guard.record(ESSENTIAL, ACCOUNT_TABLES, account.user_id)
        return cls(guard, account, reference_ttl_s=reference_ttl_s)

    @property
    def consent(self) -> ConsentSnapshot:
        return self.guard.snapshot

    @property
    def user_id(self) -> int | None:
        return self.account.user_id if self.account is not None else None

    @property
    def controls(self) -> Controls:
        return self.account.controls if self.account is not None else NO_CONTROLS

    @property
    def account_facts(self) -> AccountFacts | None:
        """What targeting may use of the account itself; None when anonymous."""
        a = self.account
        if a is None:
            return None
        return AccountFacts(a.created_at, a.country, a.platform.value if a.platform else None)

    def allows(self, purpose: str, source: Source) -> bool:
        return self.account is not None and self.consent.allows(purpose, source)

    def experiment_refusal(self, marketing: bool) -> str | None:
        """Why this person is not enrolled in experiments (they get the control experience and
        are never logged as exposed), or None. The one rule for every experiment and surface:
        anonymous, level NONE, no consent to personalize.profiling (an assignment is used to
        personalize), no consent to analytics.aggregate (an exposure is recorded for it), a
        minor for experiments on marketing surfaces, or they left experiments."""
        if self.account is None:
            return "anonymous request"
        c = self.consent
        if c.level is Level.NONE:
            return "personalization level NONE"
        if not c.allows(PROFILING, Source.DERIVED):
            return "no consent to personalize.profiling"
        if not c.allows(ANALYTICS, Source.BEHAVIOURAL):
            return "no consent to analytics.aggregate"
        if marketing and c.is_minor:
            return "minors are not in marketing experiments"
        if self.controls.left_experiments:
            return "you left experiments"
        return None

    async def signals(self, purpose: str) -> SignalSnapshot | None:
        """The behavioural rollups for `purpose`; None (and nothing read) when the snapshot does
        not allow `purpose` on activity data. Read once per operation, audited per purpose."""
        if self.account is None or not self.consent.allows(purpose, Source.BEHAVIOURAL):
            return None
        self.guard.check(purpose, Source.BEHAVIOURAL, self.account.user_id)
        self.guard.record(purpose, ACTIVITY_TABLES, self.account.user_id)
        activity = await self._load(purpose, behaviour=True)
        return activity.signals

    async def interests(self, purpose: str = CONTENT) -> tuple[str, ...]:
        """The interests the person stated; () when `purpose` may not use stated data."""
        if self.account is None or not self.consent.allows(purpose, Source.STATED):
            return ()
        self.guard.check(purpose, Source.STATED, self.account.user_id)
        self.guard.record(purpose, STATED_TABLES, self.account.user_id)
        activity = await self._load(purpose, behaviour=False)
        return activity.interests or ()

    async def tags(self, thresholds: TagThresholds) -> Tags:
        """The layout tags, decided once per operation (every surface shows the same records),
        from signals read under personalize.profiling when a tag may be computed at all."""
        if self._tags is None:
            self._tags = asyncio.ensure_future(self._decide_tags(thresholds))
        return await asyncio.shield(self._tags)

    async def _decide_tags(self, thresholds: TagThresholds) -> Tags:
        hidden = self.controls.hidden_inferences
        signals = await self.signals(PROFILING) if tags_need_signals(self.consent, hidden) else None
        created = self.account.created_at if self.account is not None else None
        return user_tags(signals, self.consent, hidden, thresholds, self.now, created)

    async def propensity(self) -> Propensity | None:
        """The purchase-propensity score, decided once per operation from the active model
        (cached per worker, dropped on every worker when a version is activated or rolled back)
        and the signals read under personalize.profiling; None, with nothing read, at level
        NONE/BASIC, without that consent, for minors, when the person hid it or when no model
        is active."""
        if self._propensity is None:
            self._propensity = asyncio.ensure_future(self._decide_propensity())
        return await asyncio.shield(self._propensity)

    async def _decide_propensity(self) -> Propensity | None:
        if self.account is None or not may_score(self.consent, self.controls.hidden_inferences):
            return None
        model = await REFERENCE.get(self.guard.pool, ACTIVE_MODEL, self.reference_ttl_s)
        if model is None:
            return None
        signals = await self.signals(PROFILING)
        if signals is None:
            return None
        return decide_propensity(model, signals, self.consent, self.now)

    async def attributes(
        self, catalog: Catalog, thresholds: TagThresholds, spend_window_days: int
    ) -> dict[str, Any]:
        """What segment rules and offers see of this person (see resolvers/model/facts.py)."""
        facts = self.account_facts
        if facts is None:
            return {}
        signals = await self.signals(OFFERS)
        tags = await self.tags(thresholds)
        propensity = await self.propensity()
        return attribute_values(
            facts, signals, tags, self.consent, catalog, self.now, spend_window_days, propensity
        )

    async def _load(self, purpose: str, behaviour: bool) -> _Activity:
        """One read for the operation: with the activity when the first caller's purpose allowed
        it (checked by the caller); a later caller that needs activity the first read left out
        reads again (rare: only a stated-data caller can come first without it)."""
        if self._activity is None or (behaviour and not self._with_behaviour):
            self._with_behaviour = self._with_behaviour or behaviour
            self._activity = asyncio.ensure_future(self._read(purpose, behaviour))
        return await asyncio.shield(self._activity)

    async def _read(self, purpose: str, behaviour: bool) -> _Activity:
        assert self.account is not None
        user_id = self.account.user_id
        stated = self.consent.allows(CONTENT, Source.STATED)
        if stated:
            self.guard.record(CONTENT, STATED_TABLES, user_id)
        row = await self.guard.fetchrow(
            Q.user_activity,
            user_id,
            behaviour,
            stated,
            purpose=purpose,
            source=Source.BEHAVIOURAL if behaviour else Source.STATED,
            tables=ACTIVITY_TABLES if behaviour else STATED_TABLES,
            subject_user_id=user_id,
        )
        if row is None:  # erased while the operation ran
            return _Activity(SignalSnapshot() if behaviour else None, () if stated else None)
        return _Activity(
            parse_activity(row) if behaviour else None,
            parse_interests(row["interests"]) if stated else None,
        )

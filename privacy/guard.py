"""The guard: every read of personal data declares its purpose and the kind of data it touches,
and is refused before the query runs when the request's consent snapshot does not allow it.

Each allowed read is recorded for the audit log (request id, principal, purpose, table); the
entries of one operation are written in one statement when the operation ends, so the hot path
pays one INSERT per request instead of one per read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from privacy.consent import ConsentSnapshot, Level, current_gpc, split_grants
from privacy.principal import Principal
from privacy.purposes import MARKETING_PURPOSES, PURPOSES, Source
from sql import load_queries
from sql.queries import Query

Q = load_queries()


class PrivacyError(Exception):
    """Base of the domain errors raised by privacy rules; messages are safe to show."""


class ConsentRequired(PrivacyError):
    def __init__(self, purpose: str, reason: str) -> None:
        super().__init__(f"not read: {reason}")
        self.purpose = purpose
        self.reason = reason


class NotYourData(PrivacyError):
    def __init__(self) -> None:
        super().__init__("a user can only read or change their own data")


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One decision-log row. Built by the resolvers, which own the record type, and written by
    `Guard.flush` with the operation's audit entries. `record` is anything orjson writes as
    the record's JSON: the resolvers pass their frozen dataclass itself, which orjson serialises
    natively, instead of building a dict per record first."""

    decision_id: uuid.UUID
    surface: str
    subject_kind: str
    subject_id: str
    rank: int | None
    mode: str
    record: object
    consent_snapshot_id: str
    generated_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    subject_user_id: int | None
    purpose: str
    table: str
    action: str = "read"


# The marketing purposes and their notice versions a GPC signal opts out of (receipt arguments).
_GPC_PURPOSES = sorted(MARKETING_PURPOSES)
_GPC_VERSIONS = [PURPOSES[p].version for p in _GPC_PURPOSES]
# What the account read touches (purpose essential.service, account data).
ACCOUNT_TABLES = ("users", "consents", "user_channels", "user_controls", "user_customization")


async def load_account(
    conn: asyncpg.Pool | asyncpg.Connection, user_id: int | None, gpc: bool
) -> tuple[ConsentSnapshot, asyncpg.Record | None]:
    """The consent snapshot of a user and their account row (`user_account`: flags, consent,
    subscribed channels, controls) in one round trip; an unknown (or erased) id is anonymous.

    Loaded per operation, never cached, so a withdrawal applies to the very next request. A
    signed-in request carrying `Sec-GPC: 1` records the signal (one receipt per marketing purpose
    and notice version, once): the read says whether a receipt is missing, and only then one
    INSERT runs, so the steady state is read-only. Requests without GPC never write.
    """
    if user_id is None:
        return ConsentSnapshot(user_id=None, gpc=gpc), None
    row = await conn.fetchrow(Q.user_account, user_id, gpc, _GPC_PURPOSES, _GPC_VERSIONS)
    if row is None:
        return ConsentSnapshot(user_id=None, gpc=gpc), None
    if gpc and row["gpc_missing"]:
        await conn.execute(Q.record_gpc, user_id, _GPC_PURPOSES, _GPC_VERSIONS)
    return snapshot_from_row(user_id, row, gpc), row


async def load_snapshot(
    conn: asyncpg.Pool | asyncpg.Connection, user_id: int | None, gpc: bool
) -> ConsentSnapshot:
    """The consent snapshot alone (see `load_account`)."""
    snapshot, _ = await load_account(conn, user_id, gpc)
    return snapshot


def snapshot_from_row(user_id: int, row: asyncpg.Record, gpc: bool) -> ConsentSnapshot:
    """A snapshot from the account flags and the per-purpose consent arrays (purposes,
    granted, versions, overrides) that every snapshot query returns."""
    granted, stale, overrides = split_grants(
        list(zip(row["purposes"], row["granted"], row["versions"], row["overrides"], strict=True))
    )
    return ConsentSnapshot(
        user_id=user_id,
        granted=granted,
        level=Level(row["personalization_level"]),
        is_minor=row["is_minor"],
        objected_to_marketing=row["objected_to_marketing"],
        gpc=gpc,
        consent_version=row["consent_version"],
        gpc_overrides=overrides,
        gpc_recorded=current_gpc(list(row["gpc_receipts"])),
        stale=stale,
    )


def _named(tables: Sequence[str]) -> Sequence[str]:
    if not tables or isinstance(tables, str):
        # An unnamed table would make the audit log unable to prove what was read or written.
        raise ValueError("a guarded read or write names the tables it touches (a sequence of names)")
    return tables


@dataclass
class Guard:
    """Per-request gate in front of personal data; build one per GraphQL operation."""

    pool: asyncpg.Pool
    principal: Principal
    request_id: str
    snapshot: ConsentSnapshot
    audit: list[AuditEntry] = field(default_factory=list)

    def check(self, purpose: str, source: Source, subject_user_id: int | None) -> None:
        """Raise unless this request may read `source` data of `subject_user_id` for `purpose`.

        A read about a user is allowed only for that user's own request, and the snapshot must
        be theirs too (a guard built for one user never reads another's rows)."""
        if subject_user_id is not None and (
            self.principal.user_id != subject_user_id
            or self.snapshot.user_id not in (None, subject_user_id)  # None: anonymous, refused below
        ):
            raise NotYourData()
        reason = self.snapshot.refusal(purpose, source)
        if reason is not None:
            raise ConsentRequired(purpose, reason)

    def allows(self, purpose: str, source: Source) -> bool:
        return self.snapshot.allows(purpose, source)

    def record(
        self, purpose: str, tables: Sequence[str], subject_user_id: int | None, action: str = "read"
    ) -> None:
        self.audit.extend(AuditEntry(subject_user_id, purpose, t, action) for t in _named(tables))

    async def fetch(
        self,
        query: str,
        *args: Any,
        purpose: str,
        source: Source,
        tables: Sequence[str],
        subject_user_id: int | None,
        conn: asyncpg.Connection | None = None,
        action: str = "read",
    ) -> list[asyncpg.Record]:
        """Run `query` only if the snapshot allows `purpose` on `source` data."""
        self.check(purpose, source, subject_user_id)
        self.record(purpose, tables, subject_user_id, action)
        runner = conn if conn is not None else self.pool
        return list(await runner.fetch(query, *args))

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        purpose: str,
        source: Source,
        tables: Sequence[str],
        subject_user_id: int | None,
        conn: asyncpg.Connection | None = None,
        action: str = "read",
    ) -> asyncpg.Record | None:
        self.check(purpose, source, subject_user_id)
        self.record(purpose, tables, subject_user_id, action)
        runner = conn if conn is not None else self.pool
        return await runner.fetchrow(query, *args)

    def forget_subject(self, user_id: int) -> None:
        """Drop pending entries naming an erased user, so the flush does not re-create them."""
        self.audit = [e for e in self.audit if e.subject_user_id != user_id]

    async def write(
        self,
        query: Query,
        *,
        purpose: str,
        source: Source,
        tables: Sequence[str],
        subject_user_id: int,
        conn: asyncpg.Connection | None = None,
        **values: Any,
    ) -> list[asyncpg.Record]:
        """Run a write about the request's own user and audit it in the same statement.

        Every guarded write query takes the audit context as named parameters (`a_request_id`,
        `a_role`, `a_principal`, `a_subject`, `a_purpose`, `a_tables`) and inserts its audit rows
        itself, only when it wrote something, so a write and its audit entry commit together or
        not at all; the rest of `values` are the query's own parameters."""
        self.check(purpose, source, subject_user_id)
        args = query.bind(
            a_request_id=self.request_id,
            a_role=self.principal.role.value,
            a_principal=self.principal.subject,
            a_subject=subject_user_id,
            a_purpose=purpose,
            a_tables=list(_named(tables)),
            **values,
        )
        runner = conn if conn is not None else self.pool
        return list(await runner.fetch(*args))

    async def flush(self, decisions: Sequence[DecisionRow] = ()) -> None:
        """Write this operation's audit entries (one per subject, purpose, table and action, in
        the order first recorded) and the decision records of its user, in one round trip (the
        decision log is written here so an operation costs one write)."""
        if not self.audit and not decisions:
            return
        entries, self.audit = list(dict.fromkeys(self.audit)), []
        await self.pool.execute(
            *Q.log_operation.bind(
                request_id=self.request_id,
                role=self.principal.role.value,
                principal_id=self.principal.subject,
                reader=self.principal.user_id,
                subjects=[e.subject_user_id for e in entries],
                purposes=[e.purpose for e in entries],
                tables=[e.table for e in entries],
                actions=[e.action for e in entries],
                decision_user=self.snapshot.user_id if decisions else None,
                ids=[d.decision_id for d in decisions],
                surfaces=[d.surface for d in decisions],
                kinds=[d.subject_kind for d in decisions],
                subject_ids=[d.subject_id for d in decisions],
                ranks=[d.rank for d in decisions],
                modes=[d.mode for d in decisions],
                records=[orjson.dumps(d.record).decode() for d in decisions],
                snapshots=[d.consent_snapshot_id for d in decisions],
                generated=[d.generated_at for d in decisions],
            ),
        )


@dataclass(frozen=True, slots=True)
class StateVersions:
    config_version: int
    consent_version: int | None  # None: no such user
    layout_inputs_version: int
    customization_version: int = 0  # the person's own settings (0: never set)


async def state_versions(conn: asyncpg.Pool | asyncpg.Connection, user_id: int | None) -> StateVersions:
    """The version counters a cached layout depends on (an HTTP ETag). They reveal that something
    changed, never what, so reading them is not a read of personal data and is not audited."""
    return (await announced_state_versions(conn, user_id))[0]


async def announced_state_versions(
    conn: asyncpg.Pool | asyncpg.Connection, user_id: int | None
) -> tuple[StateVersions, bool]:
    """`state_versions`, and whether every later change of the user's counters is announced on
    `gateway_versions` (migration 0520), which a cache of them relies on."""
    row = await conn.fetchrow(Q.state_versions, user_id)
    assert row is not None  # config_versions holds the layout row (migration 0001)
    versions = StateVersions(
        row["config_version"],
        row["consent_version"],
        row["layout_inputs_version"],
        row["customization_version"],
    )
    return versions, bool(row["announced"])

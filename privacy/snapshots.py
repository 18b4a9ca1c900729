"""Reads about many users at once (a system job, an app's event batch): each user's own consent
snapshot decides whether their rows are read, with the same rules as `Guard` and one audit entry
per user, purpose and table. Nothing here lets a request read another user's data: the callers
are jobs and writers acting on behalf of many users, never an answer to one of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from privacy.consent import ConsentSnapshot
from privacy.guard import AuditEntry, Guard, snapshot_from_row
from privacy.principal import Principal
from privacy.purposes import Source
from sql import load_queries
from sql.queries import Query

Q = load_queries()


async def load_snapshots(
    conn: asyncpg.Pool | asyncpg.Connection, user_ids: Iterable[int], gpc: bool
) -> dict[int, ConsentSnapshot]:
    """Snapshot per existing user id; unknown (or erased) ids are simply absent."""
    rows = await conn.fetch(Q.consent_snapshots, sorted(set(user_ids)))
    return {row["user_id"]: snapshot_from_row(row["user_id"], row, gpc) for row in rows}


@dataclass
class BatchGuard:
    """The guard of a job that reads many users' rows: reads only the users whose own snapshot
    allows the purpose on that kind of data, and audits each of them."""

    pool: asyncpg.Pool
    principal: Principal
    request_id: str
    snapshots: dict[int, ConsentSnapshot]
    audit: list[AuditEntry] = field(default_factory=list)

    def allowed(self, user_ids: Sequence[int], purpose: str, source: Source) -> list[int]:
        return [u for u in user_ids if u in self.snapshots and self.snapshots[u].allows(purpose, source)]

    async def fetch(
        self,
        query: str,
        user_ids: Sequence[int],
        *args: Any,
        purpose: str,
        source: Source,
        tables: Sequence[str],
        conn: asyncpg.Connection | None = None,
    ) -> list[asyncpg.Record]:
        """Run `query` (its first parameter: the user ids) for the allowed users only; on `conn`
        when given (inside the caller's transaction)."""
        ids = self.allowed(user_ids, purpose, source)
        if not ids:
            return []
        self.audit.extend(AuditEntry(u, purpose, t, "read") for u in ids for t in tables)
        runner = conn if conn is not None else self.pool
        return list(await runner.fetch(query, ids, *args))

    def record(
        self, user_ids: Sequence[int], purpose: str, tables: Sequence[str], action: str = "read"
    ) -> None:
        """Another purpose uses rows already read for these users: audit it too."""
        self.audit.extend(AuditEntry(u, purpose, t, action) for u in user_ids for t in tables)

    async def write(
        self,
        query: str | Query,
        user_ids: Sequence[int],
        *args: Any,
        purpose: str,
        tables: Sequence[str],
        conn: asyncpg.Connection | None = None,
        **values: Any,
    ) -> asyncpg.Record | None:
        """A write derived for these users (their own snapshots allowed what it is derived
        from); audited as a write per user, flushed with the reads; on `conn` when given. A
        statement with named parameters takes its values by name (`values`), a plain one by
        position (`args`)."""
        self.record(user_ids, purpose, tables, "write")
        runner = conn if conn is not None else self.pool
        if isinstance(query, Query):
            if args:
                raise TypeError(f"query {query.name!r} takes named parameters only")
            return await runner.fetchrow(*query.bind(**values))
        return await runner.fetchrow(query, *args)

    @classmethod
    async def page(
        cls, pool: asyncpg.Pool, principal: Principal, request_id: str, after: int, limit: int
    ) -> BatchGuard:
        """The guard of the next page of users after id `after` (keyset), their snapshots loaded
        in the same round trip (a stored GPC signal is in their consents)."""
        rows = await pool.fetch(Q.consent_snapshot_page, after, limit)
        return cls(
            pool,
            principal,
            request_id,
            {r["user_id"]: snapshot_from_row(r["user_id"], r, False) for r in rows},
        )

    @classmethod
    async def pages(
        cls, pool: asyncpg.Pool, principal: Principal, request_id: str | Callable[[], str], limit: int
    ) -> AsyncIterator[BatchGuard]:
        """Every user, `limit` at a time in id order (keyset), each page with its guard; the audit's
        `request_id` is one for the whole run, or a function giving one per page."""
        after = 0
        while True:
            rid = request_id() if callable(request_id) else request_id
            guard = await cls.page(pool, principal, rid, after, limit)
            if not guard.user_ids:
                return
            after = guard.user_ids[-1]
            yield guard

    @property
    def user_ids(self) -> list[int]:
        return sorted(self.snapshots)

    async def write_audited(
        self, query: Query, *, purpose: str, tables: Sequence[str], **values: Any
    ) -> list[asyncpg.Record]:
        """A write about these users that audits itself, per user and in the same statement, with
        the audit context (`a_request_id`, `a_role`, `a_principal`, `a_purpose`, `a_tables`);
        the caller checked each user's snapshot for what it writes."""
        return list(
            await self.pool.fetch(
                *query.bind(
                    a_request_id=self.request_id,
                    a_role=self.principal.role.value,
                    a_principal=self.principal.subject,
                    a_purpose=purpose,
                    a_tables=list(tables),
                    **values,
                )
            )
        )

    async def flush(self) -> None:
        guard = Guard(self.pool, self.principal, self.request_id, ConsentSnapshot(user_id=None))
        guard.audit, self.audit = self.audit, []
        await guard.flush()

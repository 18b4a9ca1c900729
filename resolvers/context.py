"""The per-request context handed to every resolver: who asks, the pool, the guard.

The consent snapshot is loaded at most once per operation, on first use, so a request that
reads no personal data costs no consent query."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from privacy.guard import Guard, load_snapshot
from privacy.principal import Principal
from resolvers.config import DomainConfig
from resolvers.explain.record import DecisionRecord
from sql import load_queries

Q = load_queries()


@dataclass
class Context:
    pool: asyncpg.Pool
    principal: Principal
    request_id: str
    config: DomainConfig
    gpc: bool = False
    request: Any = None
    response: Any = None
    # Per-request memo for loaders and snapshots; never shared between requests.
    memo: dict[str, Any] = field(default_factory=dict)
    # Decision records produced by this operation; written to the decision log at close.
    decisions: list[DecisionRecord] = field(default_factory=list)
    _guard: Guard | None = None
    _guard_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def guard(self) -> Guard:
        if self._guard is None:
            async with self._guard_lock:
                if self._guard is None:
                    snapshot = await load_snapshot(self.pool, self.principal.user_id, self.gpc)
                    self._guard = Guard(self.pool, self.principal, self.request_id, snapshot)
        return self._guard

    def log_decisions(self, records: list[DecisionRecord]) -> None:
        """Keep records for the decision log; only signed-in, known users have one."""
        if self._guard is not None and self._guard.snapshot.user_id is not None:
            self.decisions.extend(records)

    async def close(self) -> None:
        """End of the operation: write the audit entries and the decision log, in one round trip."""
        if self._guard is None:
            return
        records, self.decisions = self.decisions, []
        await self._guard.flush(
            [
                (
                    r.decision_id,
                    r.surface,
                    r.subject_kind,
                    r.subject_id,
                    r.rank,
                    r.mode.value,
                    r.to_json(),
                    r.consent_snapshot_id,
                    r.generated_at,
                )
                for r in records
            ]
            if self._guard.snapshot.user_id is not None
            else []
        )

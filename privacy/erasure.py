"""Erasure (GDPR Art. 17): every row naming the person, from every table with a user column,
in one transaction (`erase_user()`, migration 0020, which finds the tables in the catalog so a
table added later cannot be forgotten). Only the person themself, through their own guard."""

from __future__ import annotations

from dataclasses import dataclass

from privacy.guard import Guard
from privacy.purposes import ESSENTIAL, Source
from sql import load_queries

Q = load_queries()


@dataclass(frozen=True, slots=True)
class Erased:
    erasure_id: str
    rows_deleted: int
    tables: tuple[str, ...]


async def erase(guard: Guard, user_id: int) -> Erased | None:
    """Erase the request's own user; None when the account is already gone. Nothing written
    after this by the same operation names them (their pending audit entries are dropped)."""
    guard.check(ESSENTIAL, Source.ACCOUNT, user_id)
    row = await guard.pool.fetchrow(Q.erase_user, user_id)
    guard.forget_subject(user_id)
    if row is None:
        return None
    return Erased(str(row["erasure_id"]), int(row["rows_deleted"]), tuple(sorted(set(row["tables"]))))

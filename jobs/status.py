"""What the queue is doing, for admins: the newest jobs with their status and last error, and
the schedules (the `jobs` GraphQL query and `gateway jobs`). pgqueuer's tables hold no personal
data, so this reads them directly, without the guard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sql import load_queries

Q = load_queries()
STATUSES = ("queued", "picked", "successful", "exception", "canceled", "deleted", "failed")
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class JobRunRow:
    job_id: int
    name: str
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    runs: int
    attempts: int | None
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    name: str
    cron: str
    next_run: datetime
    last_run: datetime | None
    running: bool


async def job_runs(
    conn: asyncpg.Pool | asyncpg.Connection,
    status: str | None = None,
    name: str | None = None,
    limit: int = 50,
) -> list[JobRunRow]:
    rows = await conn.fetch(Q.job_runs, status, limit, name)
    return [
        JobRunRow(
            job_id=r["job_id"],
            name=r["name"],
            status=r["status"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            runs=int(r["runs"]),
            attempts=r["attempts"],
            next_attempt_at=r["next_attempt_at"],
            last_error=r["last_error"],
        )
        for r in rows
    ]


async def schedules(conn: asyncpg.Pool | asyncpg.Connection) -> list[ScheduleRow]:
    return [
        ScheduleRow(
            name=r["entrypoint"].removeprefix("tick:"),
            cron=r["expression"],
            next_run=r["next_run"],
            last_run=r["last_run"],
            running=r["status"] == "picked",
        )
        for r in await conn.fetch(Q.job_schedules)
    ]


def table(runs: list[JobRunRow], schedule_rows: list[ScheduleRow]) -> str:
    """Plain text for the CLI."""
    lines = ["schedules:"]
    for s in schedule_rows:
        last = s.last_run.isoformat(timespec="seconds") if s.last_run else "never"
        lines.append(
            f"  {s.name:<20} {s.cron:<16} next {s.next_run.isoformat(timespec='seconds')}  last {last}"
        )
    lines.append("jobs (newest first):")
    for r in runs:
        when = r.updated_at.isoformat(timespec="seconds") if r.updated_at else "-"
        error = f"  last error: {r.last_error}" if r.last_error else ""
        lines.append(f"  {r.job_id:>8} {r.name:<20} {r.status:<10} runs {r.runs}  {when}{error}")
    return "\n".join(lines)

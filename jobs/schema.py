"""The admins' view of background jobs over GraphQL: `jobs { runs { ... } schedules { ... } }`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from jobs import status as job_status
from privacy.principal import Role
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context


@strawberry.enum(description="Where a job is: waiting, running, or how it ended.")
class JobStatus(Enum):
    QUEUED = "queued"
    PICKED = "picked"
    SUCCESSFUL = "successful"
    EXCEPTION = "exception"
    CANCELED = "canceled"
    DELETED = "deleted"
    FAILED = "failed"


@strawberry.type(description="One job: its status, how often it ran, and its last error.")
class JobRun:
    id: strawberry.ID
    name: str
    status: JobStatus
    created_at: datetime | None
    updated_at: datetime | None
    runs: int = strawberry.field(description="How many times a worker picked it (retries and take-overs).")
    attempts: int | None = strawberry.field(description="Failed attempts so far, while it is in the queue.")
    next_attempt_at: datetime | None
    last_error: str | None


@strawberry.type(description="A periodic job: its cron expression (UTC) and its runs.")
class JobSchedule:
    name: str
    cron: str
    next_run: datetime
    last_run: datetime | None
    running: bool


@strawberry.type(description="The background jobs: schedules and the newest runs.")
class JobsOverview:
    runs: list[JobRun]
    schedules: list[JobSchedule]


JobsResult = Annotated[JobsOverview | InvalidInput, strawberry.union("JobsResult")]


@strawberry.type
class JobsQuery:
    @strawberry.field(
        permission_classes=[require(Role.ADMIN)],
        description="Background jobs (admins): the newest runs, their status and last error; the schedules.",
    )
    async def jobs(
        self,
        info: Info[Context, None],
        status: JobStatus | None = None,
        name: str | None = None,
        limit: int = 50,
    ) -> JobsResult:
        if not 1 <= limit <= job_status.MAX_LIMIT:
            return InvalidInput(
                message="nothing read",
                errors=[FieldError(field="limit", message=f"must be between 1 and {job_status.MAX_LIMIT}")],
            )
        pool = info.context.pool
        runs = await job_status.job_runs(pool, status.value if status else None, name, limit)
        return JobsOverview(
            runs=[
                JobRun(
                    id=strawberry.ID(str(r.job_id)),
                    name=r.name,
                    status=JobStatus(r.status),
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                    runs=r.runs,
                    attempts=r.attempts,
                    next_attempt_at=r.next_attempt_at,
                    last_error=r.last_error,
                )
                for r in runs
            ],
            schedules=[
                JobSchedule(
                    name=s.name, cron=s.cron, next_run=s.next_run, last_run=s.last_run, running=s.running
                )
                for s in await job_status.schedules(pool)
            ],
        )

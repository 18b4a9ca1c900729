"""The admins' view of background jobs over GraphQL: `jobs { runs { ... } schedules { ... } }`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from jobs import status as job_status
from privacy.principal import Role
from resolvers.common.enums import describe_values
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


describe_values(
    JobStatus,
    {
        "QUEUED": "Waiting in the queue (new, or waiting for its next attempt at `nextAttemptAt`).",
        "PICKED": "A worker is running it.",
        "SUCCESSFUL": "Finished without error.",
        "EXCEPTION": "Its last run raised an error (see `lastError`).",
        "CANCELED": "Canceled before it finished.",
        "DELETED": "Removed from the queue without running to the end.",
        "FAILED": "Held after its last allowed attempt failed; it is not retried (see `lastError`).",
    },
)


@strawberry.type(description="One job: its status, how often it ran, and its last error.")
class JobRun:
    id: strawberry.ID = strawberry.field(description="The job id in the queue.")
    name: str = strawberry.field(description="The job's entrypoint name.")
    status: JobStatus = strawberry.field(description="Its current (or, when finished, last logged) status.")
    created_at: datetime | None = strawberry.field(description="When it was queued; null when unknown.")
    updated_at: datetime | None = strawberry.field(
        description="When its status last changed; null when unknown."
    )
    runs: int = strawberry.field(description="How many times a worker picked it (retries and take-overs).")
    attempts: int | None = strawberry.field(description="Failed attempts so far, while it is in the queue.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it will run next, while QUEUED; null otherwise."
    )
    last_error: str | None = strawberry.field(
        description='Its newest logged error ("<type>: <message>"); null when none.'
    )


@strawberry.type(description="A periodic job: its cron expression (UTC) and its runs.")
class JobSchedule:
    name: str = strawberry.field(description="The periodic job's name.")
    cron: str = strawberry.field(description="Its cron expression, in UTC.")
    next_run: datetime = strawberry.field(description="When it runs next.")
    last_run: datetime | None = strawberry.field(description="When it last ran; null when never.")
    running: bool = strawberry.field(description="Whether a run is in progress now.")


@strawberry.type(description="The background jobs: schedules and the newest runs.")
class JobsOverview:
    runs: list[JobRun] = strawberry.field(
        description="The newest jobs, newest first, filtered by the query's arguments."
    )
    schedules: list[JobSchedule] = strawberry.field(description="Every periodic job.")


JobsResult = Annotated[
    JobsOverview | InvalidInput,
    strawberry.union("JobsResult", description="The overview, or InvalidInput for a limit out of range."),
]


@strawberry.type
class JobsQuery:
    @strawberry.field(
        permission_classes=[require(Role.ADMIN)],
        description="Background jobs (admins): the newest runs, their status and last error; the schedules.",
    )
    async def jobs(
        self,
        info: Info[Context, None],
        status: Annotated[
            JobStatus | None, strawberry.argument(description="Only jobs with this status; null for any.")
        ] = None,
        name: Annotated[
            str | None, strawberry.argument(description="Only jobs with this entrypoint name; null for any.")
        ] = None,
        limit: Annotated[int, strawberry.argument(description="At most this many runs, 1..500.")] = 50,
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

"""The worker's configuration: schedules, retries, delivery sinks and rules, retention batching.

Part of the gateway's settings (`GATEWAY_JOBS__...`, nested with `__`), read once and passed in.
The retention periods themselves are privacy policy (`GATEWAY_DOMAIN__RETENTION__...`,
privacy/retention.py): the notices and the export read them too."""

from __future__ import annotations

from datetime import time
from typing import Literal, Self

from croniter import croniter
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from privacy.vocabulary import Channel

MIN_SECRET_LENGTH = 32


class WorkerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # A job whose worker has not refreshed its heartbeat for this long is taken over by another
    # worker (a worker killed mid-job); heartbeats are sent every half of it.
    heartbeat_timeout_s: float = Field(default=30, gt=0.5, le=3600)
    # Attempts of a job that raises, with exponential backoff between them; after the last one
    # the job is held with status 'failed' (visible to admins) until it is re-queued.
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_initial_s: float = Field(default=5, gt=0, le=3600)
    retry_max_s: float = Field(default=600, gt=0, le=86_400)
    # Jobs run at once in one worker, and the connections they share.
    concurrency: int = Field(default=4, ge=1, le=64)
    pool_max_size: int = Field(default=4, ge=2, le=100)
    # Jobs scan whole tables; their statements get more time than a request's.
    statement_timeout_ms: int = Field(default=600_000, ge=1000, le=86_400_000)


class Schedules(BaseModel):
    """Cron expressions (5 fields, or 6 with seconds last) in UTC; None turns a job's schedule off.
    A schedule only enqueues its job (at most one queued or running at a time); the job itself
    runs with retries and shows in the job list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segments_refresh: str | None = "*/15 * * * *"
    reminders_schedule: str | None = "5 * * * *"
    outbox_deliver: str | None = "* * * * *"
    retention: str | None = "17 3 * * *"
    # Channel offers (jobs/channel_offers.py): once a day, in the morning UTC.
    channel_offers: str | None = "35 9 * * *"
    # The hook for model retraining (jobs/retrain.py): off until a model exists.
    models_retrain: str | None = None

    @field_validator("*")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value


class Webhook(BaseModel):
    """One channel's receiver: every message is POSTed as JSON, signed with HMAC-SHA256."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: AnyHttpUrl
    secret: SecretStr
    timeout_s: float = Field(default=10, gt=0, le=120)

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"a webhook secret needs at least {MIN_SECRET_LENGTH} characters")
        return value


class DeliveryConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Channel -> webhook; a channel without one goes to the log sink (one JSON log line per message).
    webhooks: dict[Channel, Webhook] = Field(default_factory=dict)
    # At most this many messages per person in any window of this length, across all channels.
    cap_per_person: int = Field(default=3, ge=1, le=1000)
    cap_window_hours: float = Field(default=24, gt=0, le=24 * 31)
    # Local time in the person's time zone during which nothing is sent (None: no quiet hours).
    # A window may cross midnight (21:00-08:00).
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 0)
    # A claimed message not confirmed by then is sent again (same idempotency key).
    lease_s: float = Field(default=120, gt=0, le=3600)
    # Failed sends: retried with exponential backoff, then the message is marked failed.
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_initial_s: float = Field(default=30, gt=0, le=86_400)
    retry_max_s: float = Field(default=6 * 3600, gt=0, le=7 * 86_400)
    # Messages claimed per round, sends in flight at once, and how long one job keeps claiming.
    batch: int = Field(default=100, ge=1, le=10_000)
    parallel_sends: int = Field(default=8, ge=1, le=256)
    run_budget_s: float = Field(default=50, gt=0, le=3600)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("set both quiet_start and quiet_end, or neither")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise ValueError("quiet_start and quiet_end must differ (leave both unset for no quiet hours)")
        return self


class RetentionJobConfig(BaseModel):
    """How the retention job works; the periods are in privacy/retention.py."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Rows deleted per statement (each batch commits), where a partition straddles the cutoff.
    batch_rows: int = Field(default=10_000, ge=100, le=1_000_000)
    # Partitions are created this far ahead of now.
    partitions_ahead_days: int = Field(default=62, ge=7, le=400)
    # A partition drop waits at most this long for its lock, then the job retries later: it
    # never queues every request behind it.
    lock_timeout_ms: int = Field(default=3000, ge=100, le=600_000)
    # The job's own history (pgqueuer's log and statistics): not personal data.
    job_history_days: int = Field(default=30, ge=1, le=3650)


class ChannelOffersConfig(BaseModel):
    """The channel-offer job (jobs/channel_offers.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # At most one channel offer per person per period (UTC day, ISO week or month).
    period: Literal["day", "week", "month"] = "week"


class JobsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    worker: WorkerConfig = WorkerConfig()
    schedules: Schedules = Schedules()
    delivery: DeliveryConfig = DeliveryConfig()
    retention: RetentionJobConfig = RetentionJobConfig()
    channel_offers: ChannelOffersConfig = ChannelOffersConfig()

    def check_production(self) -> None:
        """Production refuses webhooks that are not HTTPS (message bodies and signatures in clear)."""
        for channel, hook in self.delivery.webhooks.items():
            if hook.url.scheme != "https":
                raise ValueError(f"production needs an https webhook for channel {channel.value}")

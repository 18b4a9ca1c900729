"""The hook for model retraining (DESIGN §9, "Models"): a job the worker runs on the schedule
`GATEWAY_JOBS__SCHEDULES__MODELS_RETRAIN` (off by default).

There is no model yet. When one exists, its training entry point goes here: it must be
idempotent (train from the current consented data, store a new version; a retry after a crash
stores at most one more version) and charge its privacy budget through the same ledger as the
analysts' queries. Turning it on is then a schedule, e.g. "0 4 * * 0" (Sundays, 04:00 UTC)."""

from __future__ import annotations

import logging

import asyncpg

from resolvers.config import DomainConfig

log = logging.getLogger("gateway.jobs")


async def retrain_models(pool: asyncpg.Pool, config: DomainConfig) -> dict[str, int]:
    log.info("no model to retrain yet", extra={"job": "models.retrain"})
    return {"models": 0}

"""Model retraining (DESIGN §9, "Models"): the job `models.retrain`, run by the worker on the
schedule `GATEWAY_JOBS__SCHEDULES__MODELS_RETRAIN` (off by default; e.g. "0 4 * * 0", Sundays
04:00 UTC).

It trains the purchase-propensity model (jobs/propensity.py) from the current consented data and
stores and activates a new version. Idempotent in the sense the queue needs: the charge to the
privacy ledger and the stored version are one transaction, so a crash stores and charges nothing
and a retry trains once more; a refusal (the model budget is exhausted, no training data) is a
normal outcome, logged and reported, not an error to retry.
"""

from __future__ import annotations

import logging

import asyncpg

from jobs import propensity
from resolvers.config import DomainConfig

log = logging.getLogger("gateway.jobs")


async def retrain_models(pool: asyncpg.Pool, config: DomainConfig) -> dict[str, int | str]:
    result = await propensity.train(pool, config, "job:models.retrain")
    if isinstance(result, propensity.Refused):
        log.warning(
            "propensity model not retrained: %s (%s)",
            result.reason,
            result.detail,
            extra={"job": "models.retrain"},
        )
        return {"models": 0, "refused": result.reason}
    return {"models": 1, "version": result.version, "noisy_training_size": result.noisy_training_size}

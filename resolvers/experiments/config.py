"""Experiment settings (GATEWAY_DOMAIN__EXPERIMENTS__...)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExperimentsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Salt of the pseudonymous id experiments hash (resolvers/experiments/rules.py `pseudonym`).
    # Changing it reshuffles every running experiment: set it once per deployment.
    id_salt: str = Field(default="gateway-experiments-v1", min_length=1, max_length=200)

"""Tunable, public product configuration that the decision code reads (not secrets).

The gateway's Settings nests this as `domain`, so every value can be set from the environment
(`GATEWAY_DOMAIN__FEED_MAX_LIMIT=30`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DomainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    feed_max_limit: int = Field(default=50, ge=1, le=200)

"""Tunable, public product configuration (not secrets), composed from each capability's own.

The gateway's Settings nests this as `domain`, so every value can be set from the environment
(`GATEWAY_DOMAIN__FEED__MAX_LIMIT=30`, `GATEWAY_DOMAIN__OFFERS__USER_OFFER_CAP=4`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from privacy.dp.config import DPConfig
from privacy.retention import RetentionPolicy
from resolvers.common.limits import LimitsConfig
from resolvers.events.config import IngestConfig
from resolvers.experiments.config import ExperimentsConfig
from resolvers.feed.config import FeedConfig
from resolvers.layout.config import LayoutConfig
from resolvers.model.config import ModelConfig, PropensityConfig, TagThresholds
from resolvers.offers.config import OffersConfig
from resolvers.reminders.config import KeyDatesConfig
from resolvers.segments.config import SegmentsConfig

__all__ = ["DPConfig", "DomainConfig", "LimitsConfig", "TagThresholds"]


class DomainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- shared by every capability ---
    tags: TagThresholds = TagThresholds()
    model: ModelConfig = ModelConfig()
    propensity: PropensityConfig = PropensityConfig()
    # --- capabilities ---
    feed: FeedConfig = FeedConfig()
    layout: LayoutConfig = LayoutConfig()
    offers: OffersConfig = OffersConfig()
    segments: SegmentsConfig = SegmentsConfig()
    key_dates: KeyDatesConfig = KeyDatesConfig()
    ingest: IngestConfig = IngestConfig()
    experiments: ExperimentsConfig = ExperimentsConfig()
    explanations_max_limit: int = Field(default=100, ge=1)
    # --- privacy ---
    retention: RetentionPolicy = RetentionPolicy()
    # --- analytics ---
    dp: DPConfig = DPConfig()
    # --- the door ---
    limits: LimitsConfig = LimitsConfig()

"""Segment membership upkeep."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SegmentsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Re-evaluate a segment's members for every user when it is saved (small worlds); large worlds
    # turn this off and refresh periodically instead.
    refresh_members_on_save: bool = True

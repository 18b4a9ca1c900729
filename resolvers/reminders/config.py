"""Key-date reminders: how many days before a date the reminder goes out, and whether a brand
offer may come with it (never to a minor)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KeyDatesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The reminder is queued once the date is at most this many days away (the scheduler runs
    # hourly; one message per date and year whatever the number of runs).
    remind_days_before: int = Field(default=7, ge=0, le=60)
    # Add the brand's key-date offer to the reminder (adults only, same channel and consent).
    offer: bool = True

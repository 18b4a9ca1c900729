"""How long each kind of record about a person is kept: one policy, read by the retention job
(jobs/retention.py) that enforces it, by the purposes' notices and by the person's export, so
what a person is told is what is done.

Periods are in whole days and configurable (`GATEWAY_DOMAIN__RETENTION__EVENTS_DAYS=...`).
Records not listed here (the account, consent receipts, the per-user rollups, stored segment
memberships) are kept while the account exists and removed by erasure: the rollups are what the
product answers from once the raw events are gone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from privacy.i18n import DEFAULT, LIST_SEPARATOR, Language, localize


class DataKind(StrEnum):
    """A kind of record with a retention period. Values name the policy field (<value>_days)."""

    EVENTS = "events"
    DECISIONS = "decisions"
    AUDIT = "audit_log"
    IMPRESSIONS = "impressions"
    MESSAGES = "messages"
    DP_ANSWERS = "dp_answers"


# What each kind is, in the words the person reads in notices and in their export.
DESCRIPTIONS: dict[DataKind, str] = {
    DataKind.EVENTS: "raw activity events (views, clicks, cart changes, purchases)",
    DataKind.DECISIONS: "decision records: why each personalized thing was shown or sent to you",
    DataKind.AUDIT: "audit entries: who read your data, when and for which purpose",
    DataKind.IMPRESSIONS: "offers shown to you (used for frequency caps)",
    DataKind.MESSAGES: "messages queued or sent to you (reminders and offers) with their status",
    DataKind.DP_ANSWERS: "released anonymous statistics (aggregates; they contain no person)",
}

# The same, short enough for a sentence.
NAMES: dict[DataKind, str] = {
    DataKind.EVENTS: "your raw activity events",
    DataKind.DECISIONS: "decision records",
    DataKind.AUDIT: "records of who read your data",
    DataKind.IMPRESSIONS: "records of offers shown to you",
    DataKind.MESSAGES: "messages to you",
    DataKind.DP_ANSWERS: "released anonymous statistics",
}

# Kept while the account exists; erasure removes them.
UNTIL_ERASURE: dict[str, str] = {
    "account": "your account, choices and consent receipts",
    "rollups": "summaries of your activity (signals, per-category counts, segment memberships)",
    "experiment_exposures": "the experiments you were in and your variant (first exposure only)",
}


class RetentionPolicy(BaseModel):
    """Days each kind is kept. The impressions period is a floor for the retention job: it never
    deletes impressions an offer's frequency cap still counts (the longest cap window wins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events_days: int = Field(default=180, ge=1, le=3650)
    decisions_days: int = Field(default=90, ge=1, le=3650)
    audit_log_days: int = Field(default=365, ge=1, le=3650)
    impressions_days: int = Field(default=90, ge=1, le=3650)
    messages_days: int = Field(default=90, ge=1, le=3650)
    dp_answers_days: int = Field(default=30, ge=1, le=3650)

    def days(self, kind: DataKind) -> int:
        value = getattr(self, f"{kind.value}_days")
        assert isinstance(value, int)
        return value

    def periods(self, kinds: tuple[DataKind, ...] = tuple(DataKind)) -> list[dict[str, Any]]:
        """Machine-readable periods for notices and the export."""
        return [{"kind": k.value, "what": DESCRIPTIONS[k], "keptForDays": self.days(k)} for k in kinds]

    def sentence(self, kinds: tuple[DataKind, ...], language: Language = DEFAULT) -> str:
        """One plain-language sentence in `language`: how long the records of these kinds are
        kept (built from the catalogue's phrases, so it reads as one sentence in every language)."""
        if not kinds:
            return ""
        parts = [localize(f"{NAMES[k]} for {self.days(k)} days", language) for k in kinds]
        return localize("We keep {list}, then delete them.", language).replace(
            "{list}", LIST_SEPARATOR[language].join(parts)
        )


DEFAULT_RETENTION = RetentionPolicy()

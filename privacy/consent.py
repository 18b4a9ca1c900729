"""The consent snapshot: a request's view of what may be read about one user, loaded once per
operation. The guard asks it before any query that reads personal data runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from privacy.purposes import ESSENTIAL, MARKETING_PURPOSES, Source


class Level(StrEnum):
    NONE = "NONE"
    BASIC = "BASIC"
    FULL = "FULL"


@dataclass(frozen=True, slots=True)
class ConsentSnapshot:
    user_id: int | None
    granted: frozenset[str] = field(default_factory=frozenset)
    level: Level = Level.NONE
    is_minor: bool = False
    objected_to_marketing: bool = False
    gpc: bool = False
    consent_version: int = 0

    @property
    def snapshot_id(self) -> str:
        """Stable for a given state; changes with every consent, level or objection change."""
        if self.user_id is None:
            return "anonymous"
        return f"cs-{self.user_id}-{self.consent_version}-{int(self.gpc)}"

    def refusal(self, purpose: str, source: Source) -> str | None:
        """Why `purpose` may not read `source` data, or None when it may."""
        if self.user_id is None:
            return "anonymous request"
        if purpose == ESSENTIAL:
            return None
        if self.level is Level.NONE:
            return "personalization level NONE"
        if self.level is Level.BASIC and source in (Source.BEHAVIOURAL, Source.DERIVED):
            return "personalization level BASIC uses no activity history or inferences"
        if purpose in MARKETING_PURPOSES:
            if self.objected_to_marketing:
                return "objection to direct marketing"
            if self.gpc:
                return "Global Privacy Control signal"
            if self.is_minor and source in (Source.BEHAVIOURAL, Source.DERIVED):
                return "no profiling-based marketing for minors"
        if purpose not in self.granted:
            return f"no consent for {purpose}"
        return None

    def allows(self, purpose: str, source: Source) -> bool:
        return self.refusal(purpose, source) is None

    def effective_purposes(self, source: Source) -> frozenset[str]:
        candidates = self.granted | {ESSENTIAL}
        return frozenset(p for p in candidates if self.allows(p, source))


ANONYMOUS_SNAPSHOT = ConsentSnapshot(user_id=None)

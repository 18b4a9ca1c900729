"""The consent snapshot: a request's view of what may be read about one user, loaded once per
operation (never cached across requests, so a withdrawal takes effect on the very next one).
The guard asks it before any query that reads personal data runs.

Rules, in order (the first that applies decides):
1. anonymous (or unknown / erased) ids read nothing personal;
2. `essential.service` is always allowed for the user's own account;
3. an unknown purpose is refused (a typo must not read data);
4. level NONE reads nothing beyond the account; BASIC reads no activity history or inferences;
5. marketing purposes: an objection to direct marketing refuses them; a `Sec-GPC: 1` request
   refuses them, and once recorded for the person (a receipt per purpose and notice version)
   so does every later request of theirs, on any device, with or without the header
   (`gpc_recorded`), unless the user explicitly opted in after GPC was recorded for that purpose
   and notice version (`gpc_overrides`: the user resolved the conflict, their choice wins);
   minors never get profiling-based marketing, whatever their consent;
6. otherwise the purpose needs a grant given to its current notice version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from privacy.purposes import ESSENTIAL, MARKETING_PURPOSES, PURPOSES, Source


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
    # Marketing purposes the user explicitly opted into after GPC was recorded (current notice).
    gpc_overrides: frozenset[str] = field(default_factory=frozenset)
    # Marketing purposes a Sec-GPC: 1 request of this person opted out of (current notice), on
    # any of their devices: they stay refused without the header until an explicit opt-in.
    gpc_recorded: frozenset[str] = field(default_factory=frozenset)
    # Purposes granted to an older notice version: not granted until the user confirms again.
    stale: frozenset[str] = field(default_factory=frozenset)

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
        if purpose not in PURPOSES:
            return f"unknown purpose {purpose}"
        if self.level is Level.NONE:
            return "personalization level NONE"
        if self.level is Level.BASIC and source in (Source.BEHAVIOURAL, Source.DERIVED):
            return "personalization level BASIC uses no activity history or inferences"
        if purpose in MARKETING_PURPOSES:
            if self.objected_to_marketing:
                return "objection to direct marketing"
            if (self.gpc or purpose in self.gpc_recorded) and purpose not in self.gpc_overrides:
                return "Global Privacy Control signal"
            if self.is_minor and source in (Source.BEHAVIOURAL, Source.DERIVED):
                return "no profiling-based marketing for minors"
        if purpose in self.stale:
            return f"the notice for {purpose} changed; consent must be given again"
        if purpose not in self.granted:
            return f"no consent for {purpose}"
        return None

    def allows(self, purpose: str, source: Source) -> bool:
        return self.refusal(purpose, source) is None

    def effective_refusal(self, purpose: str) -> str | None:
        """The refusal for the broadest data the purpose reads: what the user sees as its state."""
        known = PURPOSES.get(purpose)
        return self.refusal(purpose, known.source if known else Source.STATED)


ANONYMOUS_SNAPSHOT = ConsentSnapshot(user_id=None)


def current_gpc(receipts: list[str]) -> frozenset[str]:
    """The purposes GPC receipts (`purpose@notice_version`) opt out of at their current notice."""
    out: set[str] = set()
    for receipt in receipts:
        purpose, _, version = receipt.rpartition("@")
        known = PURPOSES.get(purpose)
        if known is not None and version == str(known.version):
            out.add(purpose)
    return frozenset(out)


def split_grants(
    rows: list[tuple[str, bool, int, bool]],
) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(granted, stale, gpc_overrides) from consent rows (purpose, granted, notice_version,
    overrides_gpc). A grant counts only for the purpose's current notice version."""
    granted: set[str] = set()
    stale: set[str] = set()
    overrides: set[str] = set()
    for purpose, is_granted, version, overrides_gpc in rows:
        known = PURPOSES.get(purpose)
        if not is_granted or known is None:
            continue
        if version < known.version:
            stale.add(purpose)
            continue
        granted.add(purpose)
        if overrides_gpc:
            overrides.add(purpose)
    return frozenset(granted), frozenset(stale), frozenset(overrides)

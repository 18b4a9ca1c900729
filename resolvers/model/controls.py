"""The person's own controls over decisions about them (table `user_controls`): items, offers and
inferences they hid, categories they want less of, items they want no reminders for.

Every control a `why` offers maps to one stored entry (or to a consent or level change); this
module is the vocabulary both sides share, so an offered control can always be carried out and
undone. Targets are typed strings: `item:<id>`, `offer:<id>`, `category:<name>`,
`subcategory:<category>/<name>`, `tag:experience`, `tag:price_tier`, `model:propensity`,
`segment:<id>`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property

TAG_KEYS = ("tag:experience", "tag:price_tier")


class StoredKind(StrEnum):
    """How a control is stored (SQL domain `control_kind`)."""

    HIDE_ITEM = "hide_item"
    LESS_LIKE = "less_like"
    HIDE_OFFER = "hide_offer"
    MUTE_REMINDER = "mute_reminder"
    HIDE_INFERENCE = "hide_inference"
    LEAVE_EXPERIMENTS = "leave_experiments"


# Which targets each stored kind takes.
_TARGETS: dict[StoredKind, re.Pattern[str]] = {
    StoredKind.HIDE_ITEM: re.compile(r"^item:[1-9][0-9]{0,17}$"),
    StoredKind.MUTE_REMINDER: re.compile(r"^item:[1-9][0-9]{0,17}$"),
    StoredKind.HIDE_OFFER: re.compile(r"^offer:[1-9][0-9]{0,17}$"),
    StoredKind.LESS_LIKE: re.compile(
        r"^(category:[a-z0-9_]{1,60}|subcategory:[a-z0-9_]{1,60}/[a-z0-9_]{1,60})$"
    ),
    StoredKind.HIDE_INFERENCE: re.compile(
        r"^(tag:experience|tag:price_tier|model:propensity|segment:[1-9][0-9]{0,17})$"
    ),
    StoredKind.LEAVE_EXPERIMENTS: re.compile(r"^experiments:all$"),
}
EXPERIMENTS_TARGET = "experiments:all"


def target_problem(kind: StoredKind, target: str) -> str | None:
    """Why `target` is not a valid target for `kind` (format only), or None."""
    if _TARGETS[kind].fullmatch(target):  # `$` alone also matches before a final newline
        return None
    examples = {
        StoredKind.HIDE_ITEM: "item:<id>",
        StoredKind.MUTE_REMINDER: "item:<id>",
        StoredKind.HIDE_OFFER: "offer:<id>",
        StoredKind.LESS_LIKE: "category:<name> or subcategory:<category>/<name>",
        StoredKind.HIDE_INFERENCE: "tag:experience, tag:price_tier, model:propensity or segment:<id>",
        StoredKind.LEAVE_EXPERIMENTS: "experiments:all",
    }
    return f"expected {examples[kind]}"


def item_target(item_id: int) -> str:
    return f"item:{item_id}"


def subcategory_target(category: str, subcategory: str) -> str:
    return f"subcategory:{category}/{subcategory}"


@dataclass(frozen=True, slots=True)
class ControlEntry:
    kind: StoredKind
    target: str
    created_at: datetime


@dataclass(frozen=True)
class Controls:
    """The person's controls; the sets below are computed once per operation (the rulebook asks
    them for every candidate item)."""

    entries: tuple[ControlEntry, ...] = ()

    @classmethod
    def of(cls, kinds: Iterable[str], targets: Iterable[str], created: Iterable[datetime]) -> Controls:
        return cls(
            tuple(ControlEntry(StoredKind(k), t, c) for k, t, c in zip(kinds, targets, created, strict=True))
        )

    def _targets(self, kind: StoredKind) -> frozenset[str]:
        return frozenset(e.target for e in self.entries if e.kind is kind)

    def _ids(self, kind: StoredKind) -> frozenset[int]:
        return frozenset(int(t.split(":", 1)[1]) for t in self._targets(kind))

    @cached_property
    def hidden_items(self) -> frozenset[int]:
        return self._ids(StoredKind.HIDE_ITEM)

    @cached_property
    def hidden_offers(self) -> frozenset[int]:
        return self._ids(StoredKind.HIDE_OFFER)

    @cached_property
    def muted_reminders(self) -> frozenset[int]:
        return self._ids(StoredKind.MUTE_REMINDER)

    @cached_property
    def less_like(self) -> frozenset[str]:
        return self._targets(StoredKind.LESS_LIKE)

    @cached_property
    def hidden_inferences(self) -> frozenset[str]:
        return self._targets(StoredKind.HIDE_INFERENCE)

    @cached_property
    def left_experiments(self) -> bool:
        return any(e.kind is StoredKind.LEAVE_EXPERIMENTS for e in self.entries)

    def wants_less(self, category: str, subcategory: str) -> bool:
        less = self.less_like
        if not less:  # most people never asked: no target strings built per item
            return False
        return f"category:{category}" in less or subcategory_target(category, subcategory) in less


NO_CONTROLS = Controls()

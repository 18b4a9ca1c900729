"""Decision records and the `why` rendered from them.

Every personalized answer (feed item, offer, tag, layout choice, reminder) is produced together
with one DecisionRecord; the GraphQL `why` is a pure rendering of that record and the same record
is written to the decision log, so what the user is told is what actually decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from privacy.guard import DecisionRow


@strawberry.enum(description="Whether the answer used data about the user.")
class Mode(Enum):
    PERSONALIZED = "PERSONALIZED"
    NON_PERSONALIZED = "NON_PERSONALIZED"
    CONTEXTUAL = "CONTEXTUAL"


@strawberry.enum(description="Stable reason codes; clients may switch on them.")
class ReasonCode(Enum):
    PURCHASED_RELATED = "PURCHASED_RELATED"
    VIEWED_CATEGORY = "VIEWED_CATEGORY"
    SEGMENT_MATCH = "SEGMENT_MATCH"
    REPURCHASE_DUE = "REPURCHASE_DUE"
    CART_ABANDONED = "CART_ABANDONED"
    NEW_MEMBER = "NEW_MEMBER"
    INACTIVE = "INACTIVE"
    SPEND_THRESHOLD = "SPEND_THRESHOLD"
    POPULAR = "POPULAR"
    EDITORIAL = "EDITORIAL"
    CONTEXT = "CONTEXT"
    PRICE_TIER = "PRICE_TIER"
    EXPERIENCE = "EXPERIENCE"
    STATED_INTEREST = "STATED_INTEREST"
    MOST_USED_FEATURE = "MOST_USED_FEATURE"
    SEARCHED = "SEARCHED"
    EXPERIMENT = "EXPERIMENT"


@strawberry.enum(description="Where the data behind a reason came from.")
class SignalSource(Enum):
    STATED_BY_YOU = "stated_by_you"
    YOUR_ACTIVITY_HERE = "your_activity_here"
    MARKETER_RULE = "marketer_rule"
    MODEL_PREDICTION = "model_prediction"
    CONTEXT = "context"
    POPULARITY = "popularity"


@strawberry.enum(
    description=(
        "What the user can do about a decision. Each kind is carried out by a mutation and can be "
        "undone: HIDE, SHOW_LESS_LIKE_THIS and STOP_REMINDERS by `applyControl(kind, target)` "
        "(undone by `undoControl`), CHANGE_PERSONALIZATION_LEVEL by `setPersonalizationLevel`, "
        "OPEN_CONSENT by `setConsent(purpose)`, LEAVE_EXPERIMENTS by `applyControl(kind: "
        'LEAVE_EXPERIMENTS, target: "experiments:all")` (you get the standard experience of every '
        "experiment from your next request)."
    )
)
class ControlKind(Enum):
    SHOW_LESS_LIKE_THIS = "SHOW_LESS_LIKE_THIS"
    HIDE = "HIDE"
    STOP_REMINDERS = "STOP_REMINDERS"
    CHANGE_PERSONALIZATION_LEVEL = "CHANGE_PERSONALIZATION_LEVEL"
    OPEN_CONSENT = "OPEN_CONSENT"
    LEAVE_EXPERIMENTS = "LEAVE_EXPERIMENTS"


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    text: str
    weight: float
    source_item_id: int | None = None
    source_item_name: str | None = None


@dataclass(frozen=True, slots=True)
class RuleRef:
    kind: str  # "segment" | "offer" | "layout_rule" | "tag_rule"
    id: str
    version: int


@dataclass(frozen=True, slots=True)
class Control:
    kind: ControlKind
    label: str
    purpose: str | None = None  # OPEN_CONSENT: the purpose to review
    target: str | None = None  # HIDE / SHOW_LESS_LIKE_THIS / STOP_REMINDERS: what it applies to


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    surface: str
    subject_kind: str  # item | offer | tag | layout | reminder
    subject_id: str
    mode: Mode
    summary: str
    reasons: tuple[Reason, ...]
    signal_sources: tuple[SignalSource, ...]
    data_categories: tuple[str, ...]
    purposes: tuple[str, ...]
    consent_snapshot_id: str
    generated_at: datetime
    rank: int | None = None
    rule: RuleRef | None = None
    matched_criteria: tuple[str, ...] = ()
    controls: tuple[Control, ...] = ()
    decision_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def to_json(self) -> dict[str, Any]:
        """The decision-log form (jsonb); enums as their values. Written out by hand: a viewer
        query logs ~25 records, and dataclasses.asdict (a recursive deepcopy) cost more than
        the whole GraphQL execution of the query."""
        rule = self.rule
        return {
            "surface": self.surface,
            "subject_kind": self.subject_kind,
            "subject_id": self.subject_id,
            "mode": self.mode.value,
            "summary": self.summary,
            "reasons": [
                {
                    "code": r.code.value,
                    "text": r.text,
                    "weight": r.weight,
                    "source_item_id": r.source_item_id,
                    "source_item_name": r.source_item_name,
                }
                for r in self.reasons
            ],
            "signal_sources": [s.value for s in self.signal_sources],
            "data_categories": list(self.data_categories),
            "purposes": list(self.purposes),
            "consent_snapshot_id": self.consent_snapshot_id,
            "generated_at": self.generated_at.isoformat(),
            "rank": self.rank,
            "rule": None if rule is None else {"kind": rule.kind, "id": rule.id, "version": rule.version},
            "matched_criteria": list(self.matched_criteria),
            "controls": [
                {"kind": c.kind.value, "label": c.label, "purpose": c.purpose, "target": c.target}
                for c in self.controls
            ],
            "decision_id": str(self.decision_id),
        }

    def to_row(self) -> DecisionRow:
        """The decision-log row (privacy.guard writes it with the operation's audit entries)."""
        return DecisionRow(
            decision_id=self.decision_id,
            surface=self.surface,
            subject_kind=self.subject_kind,
            subject_id=self.subject_id,
            rank=self.rank,
            mode=self.mode.value,
            record=self.to_json(),
            consent_snapshot_id=self.consent_snapshot_id,
            generated_at=self.generated_at,
        )

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DecisionRecord:
        return cls(
            surface=raw["surface"],
            subject_kind=raw["subject_kind"],
            subject_id=raw["subject_id"],
            mode=Mode(raw["mode"]),
            summary=raw["summary"],
            reasons=tuple(Reason(**{**r, "code": ReasonCode(r["code"])}) for r in raw["reasons"]),
            signal_sources=tuple(SignalSource(s) for s in raw["signal_sources"]),
            data_categories=tuple(raw["data_categories"]),
            purposes=tuple(raw["purposes"]),
            consent_snapshot_id=raw["consent_snapshot_id"],
            generated_at=datetime.fromisoformat(raw["generated_at"]),
            rank=raw.get("rank"),
            rule=RuleRef(**raw["rule"]) if raw.get("rule") else None,
            matched_criteria=tuple(raw.get("matched_criteria", ())),
            controls=tuple(
                Control(ControlKind(c["kind"]), c["label"], c.get("purpose"), c.get("target"))
                for c in raw.get("controls", ())
            ),
            decision_id=uuid.UUID(raw["decision_id"]),
        )


# --- GraphQL rendering: plain (sync) fields over the record, no extra work per field ---


@strawberry.type(name="Reason")
class ReasonType:
    code: ReasonCode
    text: str
    weight: float
    source_item_id: strawberry.ID | None
    source_item_name: str | None


@strawberry.type(name="RuleReference")
class RuleRefType:
    kind: str
    id: strawberry.ID
    version: int


@strawberry.type(name="Control", description="One action the user can take about this decision.")
class ControlType:
    kind: ControlKind
    label: str
    purpose: str | None = strawberry.field(description="OPEN_CONSENT: the purpose to review.")
    target: str | None = strawberry.field(
        description=(
            "HIDE, SHOW_LESS_LIKE_THIS, STOP_REMINDERS: what the control applies to, to pass to "
            "`applyControl(kind, target)` (item:<id>, offer:<id>, category:<name>, "
            "subcategory:<category>/<name>, tag:<name>, segment:<id>)."
        )
    )


@strawberry.type(description="Why am I seeing this: rendered from the record that made the decision.")
class Why:
    decision_id: strawberry.ID
    mode: Mode
    summary: str
    reasons: list[ReasonType]
    signal_sources: list[SignalSource]
    data_categories: list[str]
    purposes: list[str]
    rule: RuleRefType | None
    matched_criteria: list[str]
    controls: list[ControlType]
    consent_snapshot_id: str
    generated_at: datetime


def render_why(record: DecisionRecord) -> Why:
    return Why(
        decision_id=strawberry.ID(str(record.decision_id)),
        mode=record.mode,
        summary=record.summary,
        reasons=[
            ReasonType(
                code=r.code,
                text=r.text,
                weight=r.weight,
                source_item_id=strawberry.ID(str(r.source_item_id)) if r.source_item_id is not None else None,
                source_item_name=r.source_item_name,
            )
            for r in record.reasons
        ],
        signal_sources=list(record.signal_sources),
        data_categories=list(record.data_categories),
        purposes=list(record.purposes),
        rule=RuleRefType(kind=record.rule.kind, id=strawberry.ID(record.rule.id), version=record.rule.version)
        if record.rule
        else None,
        matched_criteria=list(record.matched_criteria),
        controls=[
            ControlType(kind=c.kind, label=c.label, purpose=c.purpose, target=c.target)
            for c in record.controls
        ],
        consent_snapshot_id=record.consent_snapshot_id,
        generated_at=record.generated_at,
    )

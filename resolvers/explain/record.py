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
from privacy.i18n import Language, localize
from resolvers.common.enums import describe_values


@strawberry.enum(description="Whether the answer used data about the user.")
class Mode(Enum):
    PERSONALIZED = "PERSONALIZED"
    NON_PERSONALIZED = "NON_PERSONALIZED"
    CONTEXTUAL = "CONTEXTUAL"


describe_values(
    Mode,
    {
        "PERSONALIZED": (
            "Chosen using data about you (your activity, purchases, stated interests or an "
            "inferred tag), under the purposes listed in `purposes`."
        ),
        "NON_PERSONALIZED": (
            "The same answer anyone would get here (popular, editorial or a default setting);"
            " no data about you was used."
        ),
        "CONTEXTUAL": (
            "Chosen from the current context only (the category page you are browsing, the "
            "surface, your device), not from stored data about you."
        ),
    },
)


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
    YOUR_CHOICE = "YOUR_CHOICE"
    KEY_DATE = "KEY_DATE"
    MODEL_PREDICTION = "MODEL_PREDICTION"
    EXPERIMENT = "EXPERIMENT"


describe_values(
    ReasonCode,
    {
        "PURCHASED_RELATED": (
            "It goes with something you bought; `sourceItemId`/`sourceItemName` name that purchase."
        ),
        "VIEWED_CATEGORY": "You often look at items in this category (your browsing here).",
        "SEGMENT_MATCH": (
            "You match a marketer's audience rule (segment); `rule` names the segment and its version."
        ),
        "REPURCHASE_DUE": (
            "You buy this item regularly and the usual interval since your last purchase has passed."
        ),
        "CART_ABANDONED": "You left items in your cart (cart-reminder offers).",
        "NEW_MEMBER": "A welcome offer for accounts created recently.",
        "INACTIVE": "You have not been active for a while (win-back offers).",
        "SPEND_THRESHOLD": "Your spending over the offer's window reached its threshold (loyalty offers).",
        "POPULAR": "Popular with everyone right now; no data about you behind this reason.",
        "EDITORIAL": "Picked by our editors for everyone.",
        "CONTEXT": "Because of the context of the request, e.g. the category page you are browsing.",
        "PRICE_TIER": "Its price fits the price range you usually buy in (your inferred price tier).",
        "EXPERIENCE": (
            "Your experience tag (NEWBIE, REGULAR or POWER) chose this layout section, flag or tag value."
        ),
        "STATED_INTEREST": "An interest you chose yourself in your profile.",
        "MOST_USED_FEATURE": "The part of the app you use most, placed first in your layout.",
        "SEARCHED": "It matches something you searched for.",
        "YOUR_CHOICE": "You chose this yourself (your settings); it wins over anything inferred.",
        "KEY_DATE": "A date you gave us (day and month only) is coming up.",
        "MODEL_PREDICTION": (
            "The purchase-propensity model (trained with differential privacy) predicts from your own "
            "signals that you are likely to buy soon; `rule` names the model version."
        ),
        "EXPERIMENT": (
            "An experiment you are in changed this (its public name and your variant are in the "
            "text; `rule` names it); LEAVE_EXPERIMENTS restores the standard experience."
        ),
    },
)


@strawberry.enum(description="Where the data behind a reason came from.")
class SignalSource(Enum):
    STATED_BY_YOU = "stated_by_you"
    YOUR_ACTIVITY_HERE = "your_activity_here"
    MARKETER_RULE = "marketer_rule"
    MODEL_PREDICTION = "model_prediction"
    CONTEXT = "context"
    POPULARITY = "popularity"


describe_values(
    SignalSource,
    {
        "STATED_BY_YOU": "Something you told us yourself (profile, stated interests).",
        "YOUR_ACTIVITY_HERE": (
            "Your own activity in this service: views, searches, cart, purchases, sessions."
        ),
        "MARKETER_RULE": "A rule written by our marketers (an offer's eligibility, an audience segment).",
        "MODEL_PREDICTION": "A prediction from a statistical model. Reserved: no current decision cites it.",
        "CONTEXT": ("The context of this request only (page, surface, device), nothing stored about you."),
        "POPULARITY": "What is popular with everyone, not data about you.",
    },
)


@strawberry.enum(
    description=(
        "What the user can do about a decision. Each kind is carried out by a mutation and can be "
        "undone: HIDE, SHOW_LESS_LIKE_THIS and STOP_REMINDERS by `applyControl(kind, target)` "
        "(undone by `undoControl`), CHANGE_PERSONALIZATION_LEVEL by `setPersonalizationLevel`, "
        "OPEN_CONSENT by `setConsent(purpose)`, CHANGE_SETTINGS by `setCustomization` (undone by "
        "`resetCustomization`), LEAVE_EXPERIMENTS by `applyControl(kind: "
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
    CHANGE_SETTINGS = "CHANGE_SETTINGS"
    LEAVE_EXPERIMENTS = "LEAVE_EXPERIMENTS"


describe_values(
    ControlKind,
    {
        "SHOW_LESS_LIKE_THIS": (
            "Rank items of this category or subcategory lower: `applyControl(kind: "
            "SHOW_LESS_LIKE_THIS, target)` with the control's `target` (category:<name> or "
            "subcategory:<category>/<name>)."
        ),
        "HIDE": (
            "Never show this again: `applyControl(kind: HIDE, target)` with the control's "
            "`target` (item:<id>, offer:<id>, tag:experience, tag:price_tier or "
            "segment:<id>)."
        ),
        "STOP_REMINDERS": (
            "No more reminders for this item: `applyControl(kind: STOP_REMINDERS, target: item:<id>)`."
        ),
        "CHANGE_PERSONALIZATION_LEVEL": (
            "Open the personalization-level setting; carried out by "
            "`setPersonalizationLevel`. `target` and `purpose` are null."
        ),
        "OPEN_CONSENT": (
            "Review the consent for the purpose in the control's `purpose`; carried out by "
            "`setConsent(purpose, granted)`."
        ),
        "CHANGE_SETTINGS": (
            "Choose it yourself: `setCustomization` (target `settings:layout`, `settings:sections` or "
            "`settings:appearance` names the setting); `resetCustomization` undoes it."
        ),
        "LEAVE_EXPERIMENTS": (
            "Leave every experiment: `applyControl(kind: LEAVE_EXPERIMENTS, target: "
            '"experiments:all")`, undone by `undoControl`; the standard experience from your next request.'
        ),
    },
)


# No __slots__ on the record's dataclasses: orjson writes a dataclass with a __dict__ about 3x
# faster than one with slots (the decision log writes ~25 records per viewer request).
@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    text: str
    weight: float
    source_item_id: int | None = None
    source_item_name: str | None = None


@dataclass(frozen=True)
class RuleRef:
    kind: str  # "segment" | "offer" | "layout_rule" | "tag_rule"
    id: str
    version: int


@dataclass(frozen=True)
class Control:
    kind: ControlKind
    label: str
    purpose: str | None = None  # OPEN_CONSENT: the purpose to review
    target: str | None = None  # HIDE / SHOW_LESS_LIKE_THIS / STOP_REMINDERS: what it applies to


@dataclass(frozen=True)
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
            record=self,  # orjson writes the dataclass as `to_json()` would (tests/test_explain.py)
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


@strawberry.type(name="Reason", description="One reason behind a decision, most important first.")
class ReasonType:
    code: ReasonCode = strawberry.field(
        description="Stable code of the reason; switch on it to pick an icon or a template."
    )
    weight: float = strawberry.field(
        description=(
            "Share of this reason in the decision, between 0 and 1; the weights of one "
            "decision sum to about 1 (rounded to 4 decimals). The fallback reason of a feed "
            "item that had no signal at all has weight 0."
        )
    )
    source_item_id: strawberry.ID | None = strawberry.field(
        description=(
            "The item that caused this reason (PURCHASED_RELATED: what you bought; "
            "REPURCHASE_DUE: the item itself); null for reasons not caused by one item."
        )
    )
    source_item_name: str | None = strawberry.field(
        description="Display name of `sourceItemId`; null when `sourceItemId` is null."
    )
    text: str = strawberry.field(
        description="Human-readable sentence for this reason, in the person's language, ready to display."
    )


@strawberry.type(
    name="RuleReference", description="The rule or ranker that made the decision, at the version that ran."
)
class RuleRefType:
    kind: str = strawberry.field(
        description=(
            "Which kind of rule: `segment` (a marketer's audience), `offer` (an offer's own "
            "eligibility), `layout_rule`, `tag_rule` (an inferred tag) or `ranker` (the "
            "feed's ranking, id `feed`)."
        )
    )
    id: strawberry.ID = strawberry.field(
        description=(
            "The rule's id within its kind: a segment or offer id; for layout_rule `section`,"
            " `offers` or `flag`; for tag_rule `experience` or `price_tier`; `feed` for the "
            "ranker."
        )
    )
    version: int = strawberry.field(
        description=(
            "The version of the rule that made this decision (segments are versioned on every edit)."
        )
    )


@strawberry.type(name="Control", description="One action the user can take about this decision.")
class ControlType:
    kind: ControlKind = strawberry.field(
        description="What the control does, and which mutation carries it out (see ControlKind)."
    )
    purpose: str | None = strawberry.field(
        description="OPEN_CONSENT: the purpose key to pass to `setConsent`; null for other kinds."
    )
    target: str | None = strawberry.field(
        description=(
            "HIDE, SHOW_LESS_LIKE_THIS, STOP_REMINDERS: what the control applies to, to pass to "
            "`applyControl(kind, target)` (item:<id>, offer:<id>, category:<name>, "
            "subcategory:<category>/<name>, tag:<name>, segment:<id>)."
        )
    )
    label: str = strawberry.field(
        description="Button text for the control in the person's language, e.g. 'Hide this offer'."
    )


@strawberry.type(description="Why am I seeing this: rendered from the record that made the decision.")
class Why:
    decision_id: strawberry.ID = strawberry.field(
        description=(
            "Id of the decision record. Feed, offer, tag, layout and reminder decisions are "
            "also kept under this id in your explanation log (`viewer { explanations }`) and "
            "data export."
        )
    )
    mode: Mode = strawberry.field(
        description=(
            "Whether data about you was used (PERSONALIZED), only the request's context "
            "(CONTEXTUAL) or nothing about you (NON_PERSONALIZED)."
        )
    )
    reasons: list[ReasonType] = strawberry.field(
        description="Every reason behind the decision, highest `weight` first; never empty."
    )
    signal_sources: list[SignalSource] = strawberry.field(
        description=("Where the data behind the reasons came from; empty for a default that used no data.")
    )
    data_categories: list[str] = strawberry.field(
        description=(
            "The kinds of data about you this decision read, as fideslang data category keys "
            "(e.g. `user.behavior.purchase_history`, `user.behavior.browsing_history`); empty"
            " when no personal data was used."
        )
    )
    purposes: list[str] = strawberry.field(
        description=(
            "The consent purposes under which the data was used (e.g. `personalize.content`, "
            "`personalize.profiling`, `marketing.offers`); each is a purpose key of "
            "`purposes`. Empty when no personal data was used."
        )
    )
    rule: RuleRefType | None = strawberry.field(
        description=(
            "The rule or ranker that made the decision; null when none did (non-personalized, "
            "contextual and stated-interest feed items, reminders, default tags)."
        )
    )
    controls: list[ControlType] = strawberry.field(
        description=(
            "What you can do about this decision, each a working mutation (see ControlKind); may be empty."
        )
    )
    consent_snapshot_id: str = strawberry.field(
        description=(
            "The consent state the decision was made under: `cs-<user id>-<consent "
            "version>-<GPC 0/1>`, or `anonymous`. It changes with every consent, level or "
            "objection change, so a why with an older id predates your last change."
        )
    )
    generated_at: datetime = strawberry.field(description="When the decision was made (UTC).")
    summary: str = strawberry.field(
        description=(
            "One-sentence explanation to show first: the text of the main reason, in the person's language."
        )
    )
    matched_criteria: list[str] = strawberry.field(
        description=(
            "Plain-language conditions that held for this decision, in the person's language, ready "
            "to display as a list (e.g. 'You bought something this goes with'), including what "
            "your own controls changed ('Shown less often: you asked for less like this'); may be "
            "empty."
        )
    )


def render_why(record: DecisionRecord, language: Language) -> Why:
    """The record as the person reads it: every text in `language` (the operation's, see
    `Context.language`), rendered once here so that the GraphQL fields are plain values."""
    return Why(
        decision_id=strawberry.ID(str(record.decision_id)),
        mode=record.mode,
        summary=localize(record.summary, language),
        reasons=[
            ReasonType(
                code=r.code,
                text=localize(r.text, language),
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
        matched_criteria=[localize(c, language) for c in record.matched_criteria],
        controls=[
            ControlType(kind=c.kind, label=localize(c.label, language), purpose=c.purpose, target=c.target)
            for c in record.controls
        ],
        consent_snapshot_id=record.consent_snapshot_id,
        generated_at=record.generated_at,
    )

"""The bare Strawberry baseline's types for the personalized query: the same names, fields,
enums, nullability and union as the gateway's schema for exactly the selection in
bench.documents.PERSONALIZED, so the baseline does the same GraphQL work (parse, validate,
resolve every field, serialize) for a static answer. `build` fills them from the gateway's
captured JSON response, so the answer is also the same size."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.utils.str_converters import to_camel_case


@strawberry.enum
class Mode(Enum):
    PERSONALIZED = "PERSONALIZED"
    NON_PERSONALIZED = "NON_PERSONALIZED"
    CONTEXTUAL = "CONTEXTUAL"


@strawberry.enum
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


@strawberry.enum
class SignalSource(Enum):
    STATED_BY_YOU = "STATED_BY_YOU"
    YOUR_ACTIVITY_HERE = "YOUR_ACTIVITY_HERE"
    MARKETER_RULE = "MARKETER_RULE"
    MODEL_PREDICTION = "MODEL_PREDICTION"
    CONTEXT = "CONTEXT"
    POPULARITY = "POPULARITY"


@strawberry.enum
class ControlKind(Enum):
    SHOW_LESS_LIKE_THIS = "SHOW_LESS_LIKE_THIS"
    HIDE = "HIDE"
    STOP_REMINDERS = "STOP_REMINDERS"
    CHANGE_PERSONALIZATION_LEVEL = "CHANGE_PERSONALIZATION_LEVEL"
    OPEN_CONSENT = "OPEN_CONSENT"
    CHANGE_SETTINGS = "CHANGE_SETTINGS"
    LEAVE_EXPERIMENTS = "LEAVE_EXPERIMENTS"


@strawberry.enum
class Experience(Enum):
    NEWBIE = "NEWBIE"
    REGULAR = "REGULAR"
    POWER = "POWER"


@strawberry.enum
class PriceTier(Enum):
    BUDGET = "BUDGET"
    MID = "MID"
    LUXURY = "LUXURY"


@strawberry.enum
class Surface(Enum):
    HOME = "HOME"
    CATEGORY = "CATEGORY"
    CART = "CART"
    OFFERS = "OFFERS"
    EMAIL = "EMAIL"
    PUSH = "PUSH"


@strawberry.enum
class Platform(Enum):
    WEB = "WEB"
    IOS = "IOS"
    ANDROID = "ANDROID"


@strawberry.type
class Reason:
    code: ReasonCode
    text: str
    weight: float
    source_item_id: strawberry.ID | None
    source_item_name: str | None


@strawberry.type
class RuleReference:
    kind: str
    id: strawberry.ID
    version: int


@strawberry.type
class Control:
    kind: ControlKind
    label: str
    purpose: str | None
    target: str | None


@strawberry.type
class Why:
    decision_id: strawberry.ID
    mode: Mode
    summary: str
    reasons: list[Reason]
    signal_sources: list[SignalSource]
    data_categories: list[str]
    purposes: list[str]
    rule: RuleReference | None
    matched_criteria: list[str]
    controls: list[Control]
    consent_snapshot_id: str
    generated_at: datetime


@strawberry.type
class Tags:
    experience: Experience
    price_tier: PriceTier
    experience_why: Why
    price_tier_why: Why


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    category: str
    subcategory: str
    price_level: int
    price_cents: int


@strawberry.type
class FeedItem:
    rank: int
    item: Item
    why: Why


@strawberry.type
class LayoutSection:
    key: str
    position: int
    why: Why


@strawberry.type
class LayoutOffers:
    count: int
    why: Why


@strawberry.type
class LayoutFlag:
    key: str
    enabled: bool
    why: Why


@strawberry.type
class LayoutConfig:
    config_version: int
    mode: Mode
    tags: Tags | None  # not selected by the benchmark query (non-null in the gateway)
    sections: list[LayoutSection]
    offers: LayoutOffers
    flags: list[LayoutFlag]


@strawberry.type
class FieldError:
    field: str
    message: str
    index: int | None


@strawberry.type
class InvalidInput:
    message: str
    errors: list[FieldError]


LayoutConfigPayload = Annotated[LayoutConfig | InvalidInput, strawberry.union("LayoutConfigPayload")]


def build(tp: Any, value: Any) -> Any:
    """A value of Python type `tp` from its GraphQL JSON (camelCase keys, enum names, ISO times);
    fields absent from the JSON (not selected) become None."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return [build(inner, v) for v in value]
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        return build(inner, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp[value]
    if tp is datetime:
        return datetime.fromisoformat(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        return tp(**{name: build(hints[name], value.get(to_camel_case(name))) for name in hints})
    return value

"""Validation of a marketer's offer definition: kind-specific params, caps, references."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from resolvers.common.errors import FieldError, pydantic_errors
from resolvers.model.surfaces import Surface

KINDS = ("welcome", "abandoned_cart", "re_engagement", "spend_over", "segment")
PARAMS: dict[str, dict[str, int]] = {  # allowed params per kind, with their minimum
    "welcome": {"max_days": 1},
    "abandoned_cart": {"min_cart_value_cents": 0, "idle_minutes": 0},
    "re_engagement": {"days_inactive": 1},
    "spend_over": {"min_spend_cents": 0},
    "segment": {},
}


class OfferSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    kind: Literal["welcome", "abandoned_cart", "re_engagement", "spend_over", "segment"]
    segment_id: int | None = Field(default=None, ge=1)
    item_id: int | None = Field(default=None, ge=1)
    discount_pct: int | None = Field(default=None, ge=0, le=100)
    surface: str = Surface.OFFERS.value
    channel: Literal["email", "sms", "push", "in_app"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    cap_per_window: int | None = Field(default=None, ge=1, le=1000)
    cap_window_hours: int | None = Field(default=None, ge=1, le=24 * 365)
    priority: int = Field(default=0, ge=-1000, le=1000)
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> OfferSpec:
        if self.surface not in {s.value for s in Surface}:
            raise ValueError(f"surface must be one of {sorted(s.value for s in Surface)}")
        if self.kind == "segment" and self.segment_id is None:
            raise ValueError("a segment offer needs segmentId")
        if (self.cap_per_window is None) != (self.cap_window_hours is None):
            raise ValueError("capPerWindow and capWindowHours go together")
        return self


def param_errors(spec: OfferSpec) -> list[FieldError]:
    allowed = PARAMS[spec.kind]
    errors: list[FieldError] = []
    for key, value in spec.params.items():
        if key not in allowed:
            errors.append(FieldError(field=f"params.{key}", message=f"not a parameter of {spec.kind} offers"))
        elif not isinstance(value, int) or isinstance(value, bool) or value < allowed[key]:
            errors.append(
                FieldError(field=f"params.{key}", message=f"must be a whole number >= {allowed[key]}")
            )
    return errors


def parse_offer(raw: dict[str, Any]) -> tuple[OfferSpec | None, list[FieldError]]:
    try:
        spec = OfferSpec(**raw)
    except ValidationError as exc:
        return None, pydantic_errors(exc, prefix="input.")
    errors = param_errors(spec)
    return (None, errors) if errors else (spec, [])

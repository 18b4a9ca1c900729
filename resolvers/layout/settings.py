"""The person's own settings as a GraphQL input: what `setCustomization` stores and what an
anonymous app may send to `layoutConfig(settings:)` from the settings it keeps on the device
(validated alike by resolvers/model/customization.py, never stored on that path)."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.common.errors import FieldError
from resolvers.layout.config import LayoutConfig
from resolvers.model.customization import (
    NOTHING_CHOSEN,
    UNCHANGED,
    Customization,
    Density,
    LayoutChoice,
    Theme,
    merged,
    problems,
)


@strawberry.input(
    description=(
        "Your own settings. In setCustomization a field left out keeps its stored value and null "
        "resets it; in layoutConfig(settings:) (the anonymous path) a field left out is the default."
    )
)
class CustomizationInput:
    theme: Theme | None = strawberry.field(
        default=strawberry.UNSET, description="Light, dark or the device's."
    )
    accent: str | None = strawberry.field(
        default=strawberry.UNSET, description="An accent colour by name, from customizationOptions.accents."
    )
    font_scale: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="Text size, one of customizationOptions.fontScales (1.0 standard).",
    )
    density: Density | None = strawberry.field(
        default=strawberry.UNSET, description="Spacing of the content."
    )
    layout: LayoutChoice | None = strawberry.field(
        default=strawberry.UNSET,
        description="SIMPLE or FULL, overriding the layout your experience gives; null: let the app decide.",
    )
    pinned: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Sections shown first, in this order (customizationOptions.sections).",
    )
    hidden: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Sections never shown (customizationOptions.sections)."
    )


def changes_of(settings: CustomizationInput) -> dict[str, Any]:
    """The fields the input sets (null: back to the default), UNCHANGED for those left out."""
    defaults = NOTHING_CHOSEN

    def pick(value: Any, default: Any) -> Any:
        if value is strawberry.UNSET:
            return UNCHANGED
        return default if value is None else value

    return {
        "theme": pick(settings.theme, defaults.theme),
        "accent": pick(settings.accent, None),
        "font_scale": pick(settings.font_scale, defaults.font_scale),
        "density": pick(settings.density, defaults.density),
        "layout": pick(settings.layout, None),
        "pinned": pick(settings.pinned, ()),
        "hidden": pick(settings.hidden, ()),
    }


def client_settings(
    settings: CustomizationInput, cfg: LayoutConfig
) -> tuple[Customization | None, list[FieldError]]:
    """Settings an anonymous app sent (held on the device): validated like stored ones."""
    custom = merged(Customization(from_client=True), changes_of(settings))
    errors = [FieldError(field=f, message=m) for f, m in problems(custom, cfg)]
    return (None, errors) if errors else (custom, [])

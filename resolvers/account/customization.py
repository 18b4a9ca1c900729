"""The person's own customization over GraphQL: the published options (`customizationOptions`),
`viewer { customization }`, `setCustomization` (a new version; optional optimistic check with
`expectedVersion`) and `resetCustomization` (back to what the layout infers, as a new version).

Every value is checked against the published options (resolvers/model/customization.py): any
problem is a field error and nothing is written. The same input is what an anonymous app may send
to `layoutConfig(settings:)` from the settings it keeps on the device."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.common.texts import text
from resolvers.context import Context
from resolvers.layout.config import LayoutConfig
from resolvers.layout.settings import CustomizationInput, changes_of
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
from sql import load_queries

Q = load_queries()


@strawberry.type(name="AccentColour", description="One accent colour of the published palette.")
class AccentColour:
    name: str = strawberry.field(description="The name to store (CustomizationInput.accent).")
    hex: str = strawberry.field(description="The colour, sRGB, as #RRGGBB.")


@strawberry.type(description="What a person may choose for themself (the published options).")
class CustomizationOptions:
    themes: list[Theme] = strawberry.field(description="Colour schemes.")
    accents: list[AccentColour] = strawberry.field(description="The accent palette.")
    font_scales: list[float] = strawberry.field(description="Text sizes (1.0 is the standard).")
    densities: list[Density] = strawberry.field(description="Spacing options.")
    layouts: list[LayoutChoice] = strawberry.field(description="Layouts one may choose.")
    sections: list[str] = strawberry.field(description="Sections that may be pinned or hidden.")
    max_sections: int = strawberry.field(description="How many sections may be pinned, and how many hidden.")


def options(cfg: LayoutConfig) -> CustomizationOptions:
    return CustomizationOptions(
        themes=list(Theme),
        accents=[AccentColour(name=k, hex=v) for k, v in cfg.accent_palette.items()],
        font_scales=list(cfg.font_scales),
        densities=list(Density),
        layouts=list(LayoutChoice),
        sections=list(cfg.section_keys),
        max_sections=cfg.max_custom_sections,
    )


@strawberry.type(name="Customization", description="Your own settings as stored (version 0: nothing chosen).")
class CustomizationType:
    version: int = strawberry.field(description="Moves with every change; pass it as expectedVersion.")
    theme: Theme = strawberry.field(description="Your colour scheme.")
    accent: str | None = strawberry.field(description="Your accent colour's name; null: the app's own.")
    accent_hex: str | None = strawberry.field(description="Your accent colour, #RRGGBB.")
    font_scale: float = strawberry.field(description="Your text size.")
    density: Density = strawberry.field(description="Your spacing.")
    layout: LayoutChoice | None = strawberry.field(description="The layout you chose; null: the app decides.")
    pinned: list[str] = strawberry.field(description="Sections you pinned, in order.")
    hidden: list[str] = strawberry.field(description="Sections you hid.")
    updated_at: datetime | None = strawberry.field(description="When you last changed them.")


def render_customization(
    c: Customization, cfg: LayoutConfig, updated_at: datetime | None = None
) -> CustomizationType:
    return CustomizationType(
        version=c.version,
        theme=c.theme,
        accent=c.accent,
        accent_hex=cfg.accent_palette.get(c.accent) if c.accent else None,
        font_scale=c.font_scale,
        density=c.density,
        layout=c.layout,
        pinned=list(c.pinned),
        hidden=list(c.hidden),
        updated_at=updated_at,
    )


async def viewer_customization(info: Info[Context, None]) -> CustomizationType:
    """Your settings, from the operation's account read (no other read)."""
    ctx = info.context
    model = await ctx.model()
    custom = model.account.customization if model.account is not None else None
    return render_customization(custom or NOTHING_CHOSEN, ctx.config.layout)


SetCustomizationResult = Annotated[
    CustomizationType | InvalidInput,
    strawberry.union(
        "SetCustomizationResult", description="Your stored settings, or why nothing was stored."
    ),
]


async def _save(
    info: Info[Context, None], changes: dict[str, Any], expected_version: int | None
) -> CustomizationType | InvalidInput:
    guard, user_id = await own_guard(info)
    ctx = info.context
    cfg = ctx.config.layout
    model = await ctx.model()
    current = (model.account.customization if model.account is not None else None) or NOTHING_CHOSEN
    custom = merged(current, changes)
    errors = [FieldError(field=f, message=m) for f, m in problems(custom, cfg)]
    if expected_version is not None and expected_version < 0:
        errors.append(FieldError(field="expectedVersion", message="a version >= 0"))
    if errors:
        return InvalidInput(message=text("custom.not_changed"), errors=errors)
    rows = await guard.write(
        Q.save_customization,
        purpose=ESSENTIAL,
        source=Source.STATED,
        tables=("user_customization",),
        subject_user_id=user_id,
        theme=custom.theme.value,
        accent=custom.accent,
        font_scale=Decimal(str(custom.font_scale)),
        density=custom.density.value,
        layout=custom.layout.value if custom.layout else None,
        pinned=list(custom.pinned),
        hidden=list(custom.hidden),
        expected=expected_version,
    )
    if not rows:
        version = await guard.pool.fetchval(Q.customization_version, user_id)
        if model.account is None or version is None:
            raise account_gone()
        message = text("custom.error.version", version=version)
        return InvalidInput(
            message=text("custom.not_changed"), errors=[FieldError(field="expectedVersion", message=message)]
        )
    stored = Customization.of_row({f"custom_{k}": v for k, v in rows[0].items()})
    assert stored is not None
    return render_customization(stored, cfg, rows[0]["updated_at"])


@strawberry.type
class CustomizationQuery:
    @strawberry.field(
        description="What anyone may choose for themself: themes, palette, text sizes, sections."
    )
    def customization_options(self, info: Info[Context, None]) -> CustomizationOptions:
        return options(info.context.config.layout)


@strawberry.type
class CustomizationMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description=(
            "Change your own settings (a new version). They apply from the next request at every "
            "personalization level and always win over what the layout would infer. Any invalid "
            "value: nothing is stored. With expectedVersion, only if nothing changed them since."
        ),
    )
    async def set_customization(
        self,
        info: Info[Context, None],
        settings: Annotated[
            CustomizationInput,
            strawberry.argument(
                description="The settings to change; a field left out keeps its value, null resets it."
            ),
        ],
        expected_version: Annotated[
            int | None, strawberry.argument(description="The version you read; refused when it moved.")
        ] = None,
    ) -> SetCustomizationResult:
        changes = changes_of(settings)
        if all(v is UNCHANGED for v in changes.values()):
            return InvalidInput(
                message=text("custom.not_changed"),
                errors=[FieldError(field="settings", message=text("custom.error.nothing"))],
            )
        return await _save(info, changes, expected_version)

    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Back to the standard appearance and the layout the app decides (a new version).",
    )
    async def reset_customization(
        self,
        info: Info[Context, None],
        expected_version: Annotated[
            int | None, strawberry.argument(description="The version you read; refused when it moved.")
        ] = None,
    ) -> SetCustomizationResult:
        d = NOTHING_CHOSEN
        changes = {
            "theme": d.theme,
            "accent": None,
            "font_scale": d.font_scale,
            "density": d.density,
            "layout": None,
            "pinned": (),
            "hidden": (),
        }
        return await _save(info, changes, expected_version)

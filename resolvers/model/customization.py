"""The person's own customization of the app (pure): what they chose for themself, validated
against the published options (LayoutConfig: palette, text sizes, sections).

A choice is not profiling: it applies at every personalization level, NONE included, and it is
stated data the person can see, change, export and erase. Signed-in people's choices are stored
(`user_customization`, migration 0460, read with the account); on the anonymous path the app may
send the same settings it keeps on the device (`layoutConfig(settings:)`), validated alike and
never stored. What the person stated always wins over what the layout would infer
(resolvers/layout/rules.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from resolvers.common.texts import text
from resolvers.layout.config import LayoutConfig


@strawberry.enum(description="The colour scheme the person chose.")
class Theme(Enum):
    LIGHT = strawberry.enum_value("light", description="Light backgrounds, dark text.")
    DARK = strawberry.enum_value("dark", description="Dark backgrounds, light text.")
    SYSTEM = strawberry.enum_value("system", description="Follow the device's setting (the default).")


@strawberry.enum(description="How densely the app lays out its content.")
class Density(Enum):
    COMPACT = strawberry.enum_value("compact", description="More on screen, less spacing.")
    COMFORTABLE = strawberry.enum_value("comfortable", description="The standard spacing (the default).")
    SPACIOUS = strawberry.enum_value("spacious", description="More spacing, larger touch targets.")


@strawberry.enum(
    description="The layout the person chose; it overrides the layout their experience tag gives."
)
class LayoutChoice(Enum):
    SIMPLE = strawberry.enum_value(
        "simple", description="The simplified layout with onboarding sections and tips."
    )
    FULL = strawberry.enum_value("full", description="The full layout with every standard section.")


@dataclass(frozen=True, slots=True)
class Customization:
    """What the person chose; the defaults are "nothing chosen"."""

    theme: Theme = Theme.SYSTEM
    accent: str | None = None
    font_scale: float = 1.0
    density: Density = Density.COMFORTABLE
    layout: LayoutChoice | None = None
    pinned: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    version: int = 0  # 0: nothing stored (defaults, or settings sent by an anonymous app)
    from_client: bool = False  # sent by the app on the anonymous path, not stored

    @property
    def appearance_chosen(self) -> bool:
        return (self.theme, self.accent, self.font_scale, self.density) != (
            Theme.SYSTEM,
            None,
            1.0,
            Density.COMFORTABLE,
        )

    @property
    def is_default(self) -> bool:
        return not (self.appearance_chosen or self.layout or self.pinned or self.hidden)

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Customization | None:
        """From the account row's `custom_*` columns (resolvers/model/user.py); None when the
        person never stored a choice."""
        if row.get("custom_version") is None:
            return None
        scale = row["custom_font_scale"]
        return cls(
            theme=Theme(row["custom_theme"]),
            accent=row["custom_accent"],
            font_scale=float(scale) if isinstance(scale, Decimal | float | int) else 1.0,
            density=Density(row["custom_density"]),
            layout=LayoutChoice(row["custom_layout"]) if row["custom_layout"] else None,
            pinned=tuple(row["custom_pinned"] or ()),
            hidden=tuple(row["custom_hidden"] or ()),
            version=int(row["custom_version"]),
        )


NOTHING_CHOSEN = Customization()
UNCHANGED: Any = object()  # a field the input leaves as it is


def merged(base: Customization, changes: Mapping[str, Any]) -> Customization:
    """`base` with the given fields replaced (UNCHANGED values are skipped); lists as tuples."""
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in changes.items() if v is not UNCHANGED
    }
    return replace(base, **values)


def problems(c: Customization, cfg: LayoutConfig, prefix: str = "settings") -> list[tuple[str, str]]:
    """(field, message) for every value outside the published options; [] when all are valid."""
    out: list[tuple[str, str]] = []
    if c.accent is not None and c.accent not in cfg.accent_palette:
        out.append((f"{prefix}.accent", text("custom.error.accent", choices=", ".join(cfg.accent_palette))))
    if c.font_scale not in cfg.font_scales:
        out.append(
            (
                f"{prefix}.fontScale",
                text("custom.error.font_scale", choices=", ".join(map(str, cfg.font_scales))),
            )
        )
    out += _section_problems(c.pinned, "pinned", cfg, prefix)
    out += _section_problems(c.hidden, "hidden", cfg, prefix)
    for i, key in enumerate(c.pinned):
        if key in c.hidden:
            out.append((f"{prefix}.pinned[{i}]", text("custom.error.pinned_and_hidden", section=key)))
    return out


def _section_problems(
    keys: Sequence[str], name: str, cfg: LayoutConfig, prefix: str
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if len(keys) > cfg.max_custom_sections:
        out.append((f"{prefix}.{name}", text("custom.error.too_many", max=cfg.max_custom_sections)))
        return out
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key not in cfg.section_keys:
            # Echo at most a short, printable prefix of what was sent.
            shown = "".join(ch for ch in key[:40] if ch.isprintable())
            out.append(
                (
                    f"{prefix}.{name}[{i}]",
                    text("custom.error.section", section=shown, choices=", ".join(cfg.section_keys)),
                )
            )
        elif key in seen:
            out.append((f"{prefix}.{name}[{i}]", text("custom.error.twice", section=key)))
        seen.add(key)
    return out

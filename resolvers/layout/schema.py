"""GraphQL for the layout tags (`viewer { tags }`) and `layoutConfig(platform, appVersion)`.

Resolvers only load inputs (resolvers.model.user) and render the pure decisions (resolvers.model.tags,
resolvers.layout.rules); every rendered `why` comes from the record that decided, and the records go
to the decision log."""

from __future__ import annotations

import re
from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.i18n import Language
from privacy.principal import Role
from privacy.purposes import PROFILING
from privacy.vocabulary import Experience, Platform, PriceTier
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.locale import LocaleFormats, TextDirection, locale_formats
from resolvers.common.permissions import require
from resolvers.common.texts import text
from resolvers.context import Context
from resolvers.experiments.engine import enrollment
from resolvers.experiments.rules import Surface
from resolvers.explain.record import Mode, Why, render_why
from resolvers.layout.rules import Choice, Layout, evaluate_layout
from resolvers.layout.rulesets import LayoutRuleSet, rule_set_at
from resolvers.layout.rulesets import validate as validate_rules
from resolvers.layout.settings import CustomizationInput, client_settings
from resolvers.layout.versions import config_version
from resolvers.model.customization import Density, LayoutChoice, Theme
from resolvers.model.tags import Tags
from sql import load_queries

Q = load_queries()
_APP_VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){0,3}$")


@strawberry.type(name="Tags", description="The user's layout tags, each with its own why.")
class TagsType:
    experience: Experience = strawberry.field(
        description=(
            "Your experience tag; REGULAR when it may not be computed from your activity "
            "(then its why is NON_PERSONALIZED)."
        )
    )
    price_tier: PriceTier = strawberry.field(
        description=(
            "Your price tier; MID when it may not be computed from your purchases (then its "
            "why is NON_PERSONALIZED)."
        )
    )
    experience_why: Why = strawberry.field(
        description=("Why you have this experience tag; offers HIDE for tag:experience when it was computed.")
    )
    price_tier_why: Why = strawberry.field(
        description=("Why you have this price tier; offers HIDE for tag:price_tier when it was computed.")
    )


def render_tags(tags: Tags, language: Language) -> TagsType:
    return TagsType(
        experience=tags.experience,
        price_tier=tags.price_tier,
        experience_why=render_why(tags.experience_record, language),
        price_tier_why=render_why(tags.price_tier_record, language),
    )


@strawberry.type(description="One section of the layout, in display order.")
class LayoutSection:
    key: str = strawberry.field(
        description=(
            "The section to show, e.g. home_feed, offers, categories, search, welcome, how_it_works."
        )
    )
    position: int = strawberry.field(description="Display position, 1 first.")
    why: Why = strawberry.field(description="Why the section is shown at this position.")


@strawberry.type(description="A feature flag, evaluated for this user and platform.")
class LayoutFlag:
    key: str = strawberry.field(
        description=(
            "The flag: onboarding_tips (on for NEWBIE), quick_actions (on for POWER) or "
            "native_share (on in the mobile apps)."
        )
    )
    enabled: bool = strawberry.field(description="Whether the feature is on for you on this platform.")
    why: Why = strawberry.field(description="Why it is on or off.")


@strawberry.type(description="How many offers the layout shows.")
class LayoutOffers:
    count: int = strawberry.field(
        description=(
            "How many offers the offers section shows (by price tier: BUDGET 3, MID 2, LUXURY 1 by default)."
        )
    )
    why: Why = strawberry.field(description="Why this many.")


@strawberry.type(
    description=(
        "How the app looks and which layout applies: what the person chose (why: STATED_BY_YOU, "
        '"You chose this") or the standard.'
    )
)
class LayoutAppearance:
    theme: Theme = strawberry.field(description="Colour scheme.")
    accent: str | None = strawberry.field(description="Accent colour's name; null: the app's own.")
    accent_hex: str | None = strawberry.field(description="Accent colour, #RRGGBB.")
    font_scale: float = strawberry.field(description="Text size (1.0 standard).")
    density: Density = strawberry.field(description="Spacing.")
    layout_choice: LayoutChoice | None = strawberry.field(
        description="The layout the person chose; null: decided by the app."
    )
    hidden_sections: list[str] = strawberry.field(
        description="Sections the person hid (left out of sections)."
    )
    settings_version: int = strawberry.field(
        description="Version of the stored settings in effect (0: none stored, or sent by the app)."
    )
    why: Why = strawberry.field(description="Why the appearance is what it is.")


@strawberry.type(
    name="LayoutConfig",
    description="The evaluated mobile layout: only results, never rules, thresholds, raw values or prices.",
)
class LayoutConfigType:
    config_version: int = strawberry.field(
        description=("Version of the layout rules that evaluated this; it is part of the layout's ETag.")
    )
    mode: Mode = strawberry.field(
        description="PERSONALIZED when any choice used data about you, else NON_PERSONALIZED."
    )
    tags: TagsType = strawberry.field(description="The tags the layout was evaluated from.")
    sections: list[LayoutSection] = strawberry.field(description="The sections, in display order.")
    offers: LayoutOffers = strawberry.field(description="How many offers to show.")
    flags: list[LayoutFlag] = strawberry.field(description="The feature flags.")
    direction: TextDirection = strawberry.field(
        description="Text direction of the person's language (RTL for Farsi and Arabic)."
    )
    locale: LocaleFormats = strawberry.field(
        description="The language every text here is in, with its number and date formats."
    )
    appearance: LayoutAppearance = strawberry.field(
        description="Theme, colour, text size, density and layout choice, with why."
    )


def _section(position: int, c: Choice, language: Language) -> LayoutSection:
    return LayoutSection(key=c.key, position=position, why=render_why(c.record, language))


def render_layout(layout: Layout, palette: dict[str, str], language: Language) -> LayoutConfigType:
    personalized = any(r.mode is Mode.PERSONALIZED for r in layout.records)
    formats = locale_formats(language)
    return LayoutConfigType(
        direction=formats.direction,
        locale=formats,
        config_version=layout.config_version,
        mode=Mode.PERSONALIZED if personalized else Mode.NON_PERSONALIZED,
        tags=render_tags(layout.tags, language),
        sections=[_section(i, c, language) for i, c in enumerate(layout.sections, start=1)],
        offers=LayoutOffers(count=layout.offers.count or 0, why=render_why(layout.offers.record, language)),
        flags=[
            LayoutFlag(key=f.key, enabled=f.enabled, why=render_why(f.record, language)) for f in layout.flags
        ],
        appearance=render_appearance(layout, palette, language),
    )


def render_appearance(layout: Layout, palette: dict[str, str], language: Language) -> LayoutAppearance:
    c = layout.customization
    return LayoutAppearance(
        theme=c.theme,
        accent=c.accent,
        accent_hex=palette.get(c.accent) if c.accent else None,
        font_scale=c.font_scale,
        density=c.density,
        layout_choice=c.layout,
        hidden_sections=list(c.hidden),
        settings_version=c.version,
        why=render_why(layout.appearance.record, language),
    )


async def operation_tags(ctx: Context) -> Tags:
    """The operation's tags (decided once by the user model), logged once: `viewer { tags }`
    and `layoutConfig` render the same records (same decision ids)."""
    tags = await (await ctx.model()).tags(ctx.config.tags)
    if not ctx.memo.get("tags_logged"):
        ctx.memo["tags_logged"] = True
        ctx.log_decisions(tags.records)
    return tags


async def resolve_tags(info: Info[Context, None]) -> TagsType:
    ctx = info.context
    return render_tags(await operation_tags(ctx), ctx.language)


LayoutConfigPayload = Annotated[
    LayoutConfigType | InvalidInput,
    strawberry.union(
        "LayoutConfigPayload", description="The evaluated layout, or InvalidInput for a malformed appVersion."
    ),
]


@strawberry.type
class LayoutQuery:
    @strawberry.field(
        description=(
            "The evaluated layout for this app; anonymous callers get the default layout. What a "
            "signed-in person chose (setCustomization) always wins, at every level."
        )
    )
    async def layout_config(
        self,
        info: Info[Context, None],
        platform: Annotated[
            Platform,
            strawberry.argument(
                description="The app's platform; native_share is on only for ios and android."
            ),
        ],
        app_version: Annotated[
            str,
            strawberry.argument(description="The app's version, 1 to 4 dot-separated numbers (e.g. 4.2.0)."),
        ],
        settings: Annotated[
            CustomizationInput | None,
            strawberry.argument(
                description=(
                    "Anonymous path: the settings the app keeps on the device, validated like "
                    "stored ones and never stored. Ignored for a signed-in person, whose stored "
                    "settings apply."
                )
            ),
        ] = None,
    ) -> LayoutConfigPayload:
        if not _APP_VERSION.fullmatch(app_version):
            return InvalidInput(
                message="invalid appVersion",
                errors=[FieldError(field="appVersion", message="expected a version like 4.2.0")],
            )
        ctx = info.context
        model = await ctx.model()
        custom = model.account.customization if model.account is not None else None
        if model.account is None and settings is not None:
            custom, errors = client_settings(settings, ctx.config.layout)
            if errors:
                return InvalidInput(message=text("custom.invalid_settings"), errors=errors)
        tags = await operation_tags(ctx)
        # Most-used features order a power user's sections: read under profiling, like the tags.
        signals = await model.signals(PROFILING) if tags.experience is Experience.POWER else None
        features = signals.feature_counts if signals is not None else {}
        sections_exp = await enrollment(ctx, Surface.LAYOUT_SECTIONS, platform.value)
        offers_exp = await enrollment(ctx, Surface.OFFER_COUNT, platform.value)
        rules_exp = await enrollment(ctx, Surface.LAYOUT_RULES, platform.value)
        version = await config_version(ctx, "layout")
        layout = evaluate_layout(
            tags,
            features,
            ctx.config.layout,
            model.consent,
            model.now,
            version,
            platform.value,
            custom,
            sections_experiment=sections_exp,
            offers_experiment=offers_exp,
            rule_set=await rule_set_at(ctx, version),
            rules_experiment=rules_exp,
        )
        ctx.log_decisions(layout.choice_records)
        return render_layout(layout, ctx.config.layout.accent_palette, ctx.language)


@strawberry.input(description="One layout rule: a tag combination and what its layout sets.")
class LayoutRuleInput:
    experience: Experience | None = strawberry.field(
        default=None, description="The experience tag it is for (none: any experience)."
    )
    price_tier: PriceTier | None = strawberry.field(
        default=None, description="The price tier it is for (none: any tier); give at least one tag."
    )
    sections: list[str] | None = strawberry.field(
        default=None, description="Known layout sections in display order (none: not set by this rule)."
    )
    offer_count: int | None = strawberry.field(
        default=None, description="How many offers the layout shows, 0..10 (none: not set by this rule)."
    )


@strawberry.type(description="One layout rule of the current rule set.")
class LayoutRuleType:
    experience: Experience | None = strawberry.field(description="The experience tag (null: any).")
    price_tier: PriceTier | None = strawberry.field(description="The price tier (null: any).")
    sections: list[str] | None = strawberry.field(description="Sections in order (null: not set).")
    offer_count: int | None = strawberry.field(description="Offers shown (null: not set).")


@strawberry.type(
    description="The layout rules per tag combination, at a version; the most specific rule wins."
)
class LayoutRules:
    version: int = strawberry.field(description="The rule set's version (0: none saved yet).")
    layout_version: int = strawberry.field(
        description="The layout rule version (configVersion) it took effect at."
    )
    rules: list[LayoutRuleType] = strawberry.field(description="The rules.")


def _render_rules(rs: LayoutRuleSet) -> LayoutRules:
    return LayoutRules(
        version=rs.version,
        layout_version=rs.layout_version,
        rules=[
            LayoutRuleType(
                experience=Experience(r.experience) if r.experience else None,
                price_tier=PriceTier(r.price_tier) if r.price_tier else None,
                sections=list(r.sections) if r.sections is not None else None,
                offer_count=r.offer_count,
            )
            for r in rs.rules
        ],
    )


LayoutRulesResult = Annotated[
    LayoutRules | InvalidInput,
    strawberry.union(
        "LayoutRulesResult",
        description="The rule set as saved, or InvalidInput (every problem by field; nothing saved).",
    ),
]
RulesArg = Annotated[
    list[LayoutRuleInput],
    strawberry.argument(description="The whole new rule set: one rule per tag combination (at most 15)."),
]
LAYOUT_MARKETER = [require(Role.MARKETER, Role.ADMIN)]


@strawberry.type
class LayoutRulesQuery:
    @strawberry.field(
        permission_classes=LAYOUT_MARKETER, description="The current layout rules per tag combination."
    )
    async def layout_rules(self, info: Info[Context, None]) -> LayoutRules:
        ctx = info.context
        return _render_rules(await rule_set_at(ctx, await config_version(ctx, "layout")))


@strawberry.type
class LayoutRulesMutation:
    @strawberry.mutation(
        permission_classes=LAYOUT_MARKETER,
        description=(
            "Replace the layout rules per tag combination with a new version; it applies from the "
            "next request in every worker and moves the layout ETag."
        ),
    )
    async def set_layout_rules(self, info: Info[Context, None], rules: RulesArg) -> LayoutRulesResult:
        ctx = info.context
        layout = ctx.config.layout
        known = (
            frozenset(layout.default_sections) | frozenset(layout.newbie_sections) | layout.feature_sections
        )
        raw = [
            {
                "experience": r.experience.value if r.experience else None,
                "priceTier": r.price_tier.value if r.price_tier else None,
                "sections": r.sections,
                "offerCount": r.offer_count,
            }
            for r in rules
        ]
        parsed, errors = validate_rules(raw, known)
        if errors:
            return InvalidInput(message="layout rules not saved", errors=errors)
        row = await ctx.pool.fetchrow(
            Q.insert_layout_rule_set, [r.to_json() for r in parsed], ctx.principal.label
        )
        assert row is not None
        return _render_rules(LayoutRuleSet.of(row["version"], row["layout_version"], row["rules"]))

"""The feed over GraphQL: asks the user model for the inputs the plan allows, calls the pure
decision, renders each `why` from its record and hands the records to the decision log."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.consent import ANONYMOUS_SNAPSHOT
from privacy.i18n import Language
from privacy.purposes import CONTENT, PROFILING, Source
from privacy.vocabulary import PriceTier
from resolvers.common.errors import InvalidArgument
from resolvers.context import Context
from resolvers.experiments.engine import enrollment
from resolvers.experiments.rules import Enrollment
from resolvers.experiments.rules import Surface as ExperimentSurface
from resolvers.explain.record import Mode, Why, render_why
from resolvers.feed.rules import FeedPlan, FeedRequest, Ranked, decide_feed, plan_feed
from resolvers.model.catalog import Item
from resolvers.model.facts import price_tier_of
from resolvers.model.rulebook import Rulebook
from resolvers.model.signals import SignalSnapshot
from resolvers.model.surfaces import Surface
from resolvers.model.user import UserModel


@strawberry.type(name="Item", description="A catalog item (public data).")
class ItemType:
    item_id: strawberry.Private[int]
    name: str = strawberry.field(description="Display name.")
    category: str = strawberry.field(
        description=("Catalog category key (e.g. `grocery`); the `category` argument of feeds takes these.")
    )
    subcategory: str = strawberry.field(description="Subcategory key within the category.")
    price_level: int = strawberry.field(
        description=(
            "Relative price level within the catalog, 1 (cheapest) to 4 (most expensive); the"
            " price tier is computed from it."
        )
    )
    price_cents: int = strawberry.field(description="Price in cents (integer, the catalog's currency).")

    @strawberry.field(description="The item id (pass it as `itemId` in trackEvents).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.item_id))

    @classmethod
    def of(cls, item: Item) -> ItemType:
        return cls(
            item_id=item.item_id,
            name=item.name,
            category=item.category,
            subcategory=item.subcategory,
            price_level=item.price_level,
            price_cents=item.price_cents,
        )


@strawberry.type(description="One ranked item and why it is here.")
class FeedItem:
    item: ItemType = strawberry.field(description="The catalog item at this rank.")
    rank: int = strawberry.field(description="Position in the feed, 1 first.")
    why: Why = strawberry.field(description="Why this item is here, at this rank.")


def _request(ctx: Context, surface: Surface, limit: int, category: str | None, now: datetime) -> FeedRequest:
    top = ctx.config.feed.max_limit
    if not 1 <= limit <= top:
        raise InvalidArgument(f"limit: must be between 1 and {top}")
    if category is not None and not category.strip():
        raise InvalidArgument("category: must not be empty")
    return FeedRequest(surface=surface, limit=limit, now=now, category=category)


async def price_tier_signal(ctx: Context, model: UserModel) -> PriceTier | None:
    """The price tier as a ranking signal (the rule: `price_tier_of`), read through the model."""
    if not model.allows(PROFILING, Source.DERIVED):
        return None
    tags = await model.tags(ctx.config.tags)
    return price_tier_of(model.consent, tags, await model.signals(PROFILING))


def _render(ranked: list[Ranked], language: Language) -> list[FeedItem]:
    return [
        FeedItem(item=ItemType.of(r.item), rank=r.record.rank or i, why=render_why(r.record, language))
        for i, r in enumerate(ranked, start=1)
    ]


async def viewer_feed(
    info: Info[Context, None], surface: Surface, limit: int, category: str | None
) -> list[FeedItem]:
    ctx = info.context
    model = await ctx.model()
    req = _request(ctx, surface, limit, category, model.now)
    cat = await ctx.catalog()
    plan = plan_feed(model.consent, req, cat)
    signals: SignalSnapshot | None = None
    interests: tuple[str, ...] = ()
    tier: PriceTier | None = None
    propensity = None
    if plan.source is Source.BEHAVIOURAL:
        signals = await model.signals(CONTENT)
        tier = await price_tier_signal(ctx, model)
        propensity = await model.propensity()
    elif plan.source is Source.STATED:
        interests = await model.interests(CONTENT)
    rules = Rulebook.build(cat, signals, model.controls, model.now)
    cfg = ctx.config.feed
    # Ranking weights count only on the personalized path: only there is a person enrolled in a
    # feed-weight experiment (and exposed), and only there does its variant change anything.
    exp = await enrollment(ctx, ExperimentSurface.FEED_WEIGHTS) if plan.source is Source.BEHAVIOURAL else None
    if exp is not None and not exp.is_control:
        cfg = cfg.model_copy(update={"weights": cfg.weights.model_copy(update=exp.variant.value["weights"])})
    ranked = decide_feed(req, model.consent, plan, cat, cfg, rules, signals, interests, tier, propensity)
    if exp is not None and not exp.is_control:
        ranked = [_with_experiment(r, exp) for r in ranked]
    ctx.log_decisions([r.record for r in ranked])
    return _render(ranked, ctx.language)


def _with_experiment(r: Ranked, exp: Enrollment) -> Ranked:
    """A personalized item ranked with a variant's weights: its why names the experiment."""
    if r.record.mode is not Mode.PERSONALIZED:
        return r
    record = replace(
        r.record, reasons=(*r.record.reasons, exp.reason), controls=(*r.record.controls, exp.control)
    )
    return replace(r, record=record)


@strawberry.type
class FeedQuery:
    @strawberry.field(
        description=(
            "The non-personalized feed (editorial, popular, or the category page's context): what "
            "anonymous visitors and level-NONE users see. Signed-in users ask `viewer { feed }`."
        )
    )
    async def feed(
        self,
        info: Info[Context, None],
        surface: Annotated[Surface, strawberry.argument(description="Where the feed is shown.")],
        limit: Annotated[
            int,
            strawberry.argument(description="How many items, 1 to the configured maximum (50 by default)."),
        ] = 10,
        category: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "Only items of this category (a category page); the feed is then CONTEXTUAL. Null"
                    " for every category."
                )
            ),
        ] = None,
    ) -> list[FeedItem]:
        ctx = info.context
        req = _request(ctx, surface, limit, category, datetime.now(UTC))
        cat = await ctx.catalog()
        ranked = decide_feed(
            req, ANONYMOUS_SNAPSHOT, FeedPlan(None), cat, ctx.config.feed, Rulebook.anonymous(cat)
        )
        return _render(ranked, ctx.language)

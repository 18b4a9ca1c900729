"""The feed over GraphQL: loads the inputs the plan allows (through the guard), calls the pure
decision, renders each `why` from its record and hands the records to the decision log."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from privacy.consent import ANONYMOUS_SNAPSHOT
from privacy.guard import ConsentRequired
from privacy.purposes import CONTENT, Source
from resolvers.common.errors import SafeError
from resolvers.context import Context
from resolvers.explain.record import Why, render_why
from resolvers.feed.rules import FeedPlan, FeedRequest, Ranked, decide_feed, plan_feed
from resolvers.model.catalog import CATALOG, Catalog, Item
from resolvers.model.signals import SignalSnapshot, load_signals, load_stated_interests
from resolvers.model.surfaces import Surface


class InvalidArgument(SafeError):
    code = "BAD_USER_INPUT"


@strawberry.type(name="Item", description="A catalog item (public data).")
class ItemType:
    item_id: strawberry.Private[int]
    name: str
    category: str
    subcategory: str
    price_level: int
    price_cents: int

    @strawberry.field
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
    item: ItemType
    rank: int
    why: Why


async def catalog(ctx: Context) -> Catalog:
    return await CATALOG.get(ctx.pool, ctx.config.personalization.catalog_ttl_s)


def _request(ctx: Context, surface: Surface, limit: int, category: str | None) -> FeedRequest:
    top = ctx.config.feed_max_limit
    if not 1 <= limit <= top:
        raise InvalidArgument(f"limit: must be between 1 and {top}")
    if category is not None and not category.strip():
        raise InvalidArgument("category: must not be empty")
    return FeedRequest(surface=surface, limit=limit, now=datetime.now(UTC), category=category)


def _render(ranked: list[Ranked]) -> list[FeedItem]:
    return [
        FeedItem(item=ItemType.of(r.item), rank=r.record.rank or i, why=render_why(r.record))
        for i, r in enumerate(ranked, start=1)
    ]


async def viewer_feed(
    info: Info[Context, None], user_id: int, surface: Surface, limit: int, category: str | None
) -> list[FeedItem]:
    ctx = info.context
    req = _request(ctx, surface, limit, category)
    cat = await catalog(ctx)
    guard = await ctx.guard()
    plan = plan_feed(guard.snapshot, req, cat)
    signals: SignalSnapshot | None = None
    interests: tuple[str, ...] = ()
    try:
        if plan.source is Source.BEHAVIOURAL:
            signals = await load_signals(guard, user_id, CONTENT)
        elif plan.source is Source.STATED:
            interests = await load_stated_interests(guard, user_id, CONTENT)
    except ConsentRequired:
        plan = FeedPlan(None, reason="consent refused at read time")  # not read: fall back
    ranked = decide_feed(
        req, guard.snapshot, plan, cat, ctx.config.personalization.weights, signals, interests
    )
    ctx.log_decisions([r.record for r in ranked])
    return _render(ranked)


@strawberry.type
class FeedQuery:
    @strawberry.field(
        description=(
            "The non-personalized feed (editorial, popular, or the category page's context): what "
            "anonymous visitors and level-NONE users see. Signed-in users ask `viewer { feed }`."
        )
    )
    async def feed(
        self, info: Info[Context, None], surface: Surface, limit: int = 10, category: str | None = None
    ) -> list[FeedItem]:
        ctx = info.context
        req = _request(ctx, surface, limit, category)
        cat = await catalog(ctx)
        ranked = decide_feed(req, ANONYMOUS_SNAPSHOT, FeedPlan(None), cat, ctx.config.personalization.weights)
        return _render(ranked)

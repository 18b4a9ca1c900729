"""Who am I, and the signed-in user's own account."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from privacy.consent import Level
from resolvers.account.channels import ChannelState, viewer_channels
from resolvers.account.consent import (
    ConsentReceipt,
    ConsentState,
    viewer_consent,
    viewer_consent_history,
    viewer_consent_snapshot_id,
)
from resolvers.account.controls import AppliedControl, viewer_controls
from resolvers.account.explanations import Explanation, viewer_explanations
from resolvers.account.inferences import Inference, viewer_inferences
from resolvers.account.profile import ProfileFieldValue, ProfilePrompt, viewer_profile, viewer_profile_prompts
from resolvers.context import Context
from resolvers.feed.schema import FeedItem, viewer_feed
from resolvers.model.surfaces import Surface
from resolvers.offers.schema import ServedOffer, viewer_offers
from resolvers.reminders.schema import Reminder, viewer_reminders

if TYPE_CHECKING:
    from resolvers.layout.schema import TagsType


@strawberry.type(description="The caller as the gateway sees it.")
class Whoami:
    role: str = strawberry.field(
        description="Your role from the token: anonymous, user, app, analyst, marketer or admin."
    )
    subject: str | None = strawberry.field(
        description="The token's subject (sub claim); null for anonymous requests."
    )
    request_id: str = strawberry.field(
        description=(
            "This request's id, also sent as the X-Request-Id header; quote it when reporting a problem."
        )
    )


@strawberry.type(description="The signed-in user. Every field reads only this user's data.")
class Viewer:
    user_id: strawberry.Private[int]
    created_at: datetime = strawberry.field(description="When your account was created (UTC).")
    personalization_level: Level = strawberry.field(
        description=(
            "The personalization level you chose (see PersonalizationLevel); BASIC until you choose."
        )
    )
    country: str | None = strawberry.field(
        description=("Your country as stored on the account (ISO 3166-1 alpha-2 code); null when unknown.")
    )
    platform: str | None = strawberry.field(
        description=("The platform of your account: web, ios or android (lower case); null when unknown.")
    )
    preferred_channel: str | None = strawberry.field(
        description=(
            "The channel you prefer for reminders: email, sms, push or in_app (lower case); "
            "null when none chosen."
        )
    )
    time_zone: str = strawberry.field(description="Your IANA time zone; messages respect quiet hours in it.")

    @strawberry.field(description="Your user id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.user_id))

    # --- personalization fields (feed, tags, layout, offers, explanations, inferences) ---
    @strawberry.field(description="Your feed for a surface, each item with why it is there.")
    async def feed(
        self,
        info: Info[Context, None],
        surface: Annotated[
            Surface,
            strawberry.argument(
                description="Where the feed is shown; marketing surfaces also need marketing consent."
            ),
        ],
        limit: Annotated[
            int,
            strawberry.argument(description="How many items, 1 to the configured maximum (50 by default)."),
        ] = 10,
        category: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "Only items of this category (a category page); null for every category. "
                    "Sensitive categories are never personalized."
                )
            ),
        ] = None,
    ) -> list[FeedItem]:
        return await viewer_feed(info, surface, limit, category)

    @strawberry.field(description="Offers chosen for you on a surface (frequency-capped), each with why.")
    async def offers(
        self,
        info: Info[Context, None],
        surface: Annotated[
            Surface, strawberry.argument(description="Where the offers are shown (OFFERS by default).")
        ] = Surface.OFFERS,
    ) -> list[ServedOffer]:
        return await viewer_offers(info, surface)

    @strawberry.field(description="Reminders due on your preferred, subscribed and consented channel.")
    async def reminders(self, info: Info[Context, None]) -> list[Reminder]:
        return await viewer_reminders(info)

    @strawberry.field(
        description="What is inferred about you (tags, audiences), why, and whether you hid it."
    )
    async def inferences(self, info: Info[Context, None]) -> list[Inference]:
        return await viewer_inferences(info)

    @strawberry.field(description="Your most recent decision records (the explanation log).")
    async def explanations(
        self,
        info: Info[Context, None],
        limit: Annotated[
            int,
            strawberry.argument(
                description="How many records, newest first: 1 to the configured maximum (100 by default)."
            ),
        ] = 20,
    ) -> list[Explanation]:
        return await viewer_explanations(info, limit)

    @strawberry.field(description="Your layout tags (experience, price tier), each with its why.")
    async def tags(
        self, info: Info[Context, None]
    ) -> Annotated[TagsType, strawberry.lazy("resolvers.layout.schema")]:
        from resolvers.layout.schema import resolve_tags

        return await resolve_tags(info)

    # --- privacy fields (consent, channels, profile prompts) ---
    consent: list[ConsentState] = strawberry.field(
        resolver=viewer_consent, description="Every purpose: your choice and whether it is in effect now."
    )
    consent_history: list[ConsentReceipt] = strawberry.field(
        resolver=viewer_consent_history, description="Your consent receipts, newest first."
    )
    consent_snapshot_id: str = strawberry.field(
        resolver=viewer_consent_snapshot_id, description="The consent state this request was answered under."
    )
    channels: list[ChannelState] = strawberry.field(
        resolver=viewer_channels, description="Every channel: subscription, preference and consent."
    )
    controls: list[AppliedControl] = strawberry.field(
        resolver=viewer_controls,
        description="What you asked of decisions about you (hidden, shown less, reminders stopped).",
    )
    profile: list[ProfileFieldValue] = strawberry.field(
        resolver=viewer_profile, description="The profile fields you stated, with where and when."
    )
    profile_prompts: list[ProfilePrompt] = strawberry.field(
        resolver=viewer_profile_prompts, description="Fields the product would like at this stage, and why."
    )


async def load_viewer(info: Info[Context, None]) -> Viewer | None:
    """The signed-in user from the operation's user model (its account read, no other)."""
    ctx = info.context
    if ctx.principal.user_id is None:
        return None
    model = await ctx.model()
    account = model.account
    if account is None:  # unknown or erased id: treated as anonymous
        return None
    return Viewer(
        user_id=account.user_id,
        created_at=account.created_at,
        personalization_level=model.consent.level,
        country=account.country,
        platform=account.platform.value if account.platform else None,
        preferred_channel=account.preferred_channel.value if account.preferred_channel else None,
        time_zone=account.time_zone,
    )


@strawberry.type
class AccountQuery:
    @strawberry.field(description="Who the gateway thinks you are (no personal data).")
    def whoami(self, info: Info[Context, None]) -> Whoami:
        p = info.context.principal
        return Whoami(role=p.role.value, subject=p.subject, request_id=info.context.request_id)

    @strawberry.field(description="The signed-in user; null for anonymous requests and unknown users.")
    async def viewer(self, info: Info[Context, None]) -> Viewer | None:
        return await load_viewer(info)

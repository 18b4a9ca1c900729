"""Channels: the preferred channel and a subscription state per channel (Braze-style).

A reminder may use a channel only when it is preferred, subscribed AND its marketing purpose is
in effect; `usable` says whether all three hold for this request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source, channel_purpose
from privacy.vocabulary import Channel
from resolvers.account.own import account_gone, own_guard
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()


@strawberry.type(description="One channel: subscription, preference, and whether reminders may use it now.")
class ChannelState:
    channel: Channel = strawberry.field(
        description="The channel this row is about (every channel is listed)."
    )
    subscribed: bool = strawberry.field(description="Whether you subscribed to messages on this channel.")
    preferred: bool = strawberry.field(
        description="Whether this is your preferred channel for reminders (at most one is)."
    )
    purpose: str = strawberry.field(description="The marketing purpose messages on this channel need.")
    consented: bool = strawberry.field(description="Whether that purpose is in effect for this request.")
    usable: bool = strawberry.field(description="Preferred, subscribed and consented: reminders may use it.")
    updated_at: datetime | None = strawberry.field(
        description="When the subscription last changed; null when never set."
    )


async def viewer_channels(info: Info[Context, None]) -> list[ChannelState]:
    guard, user_id = await own_guard(info)
    rows = await guard.fetch(
        Q.user_channels,
        user_id,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("users", "user_channels"),
        subject_user_id=user_id,
    )
    preferred = rows[0]["preferred_channel"] if rows else None
    stored = {r["channel"]: r for r in rows if r["channel"] is not None}
    out: list[ChannelState] = []
    for channel in Channel:
        row = stored.get(channel.value)
        purpose = channel_purpose(channel.value) or ""
        subscribed = bool(row and row["subscribed"])
        # Channel messages carry offers chosen for the user, not activity history: ACCOUNT data.
        consented = guard.snapshot.allows(purpose, Source.ACCOUNT)
        is_preferred = preferred == channel.value
        out.append(
            ChannelState(
                channel=channel,
                subscribed=subscribed,
                preferred=is_preferred,
                purpose=purpose,
                consented=consented,
                usable=subscribed and is_preferred and consented,
                updated_at=row["updated_at"] if row else None,
            )
        )
    return out


@strawberry.type
class ChannelMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="The channel reminders should use (still needs consent and a subscription).",
    )
    async def set_preferred_channel(
        self,
        info: Info[Context, None],
        channel: Annotated[Channel, strawberry.argument(description="The channel to prefer.")],
    ) -> list[ChannelState]:
        guard, user_id = await own_guard(info)
        written = await guard.write(
            Q.set_preferred_channel,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("users",),
            subject_user_id=user_id,
            channel=channel.value,
        )
        if not written:
            raise account_gone()
        return await viewer_channels(info)

    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Subscribe to or unsubscribe from one channel.",
    )
    async def set_channel_subscription(
        self,
        info: Info[Context, None],
        channel: Annotated[Channel, strawberry.argument(description="The channel to change.")],
        subscribed: Annotated[
            bool, strawberry.argument(description="True to subscribe, false to unsubscribe.")
        ],
    ) -> list[ChannelState]:
        guard, user_id = await own_guard(info)
        written = await guard.write(
            Q.set_channel_subscription,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("user_channels",),
            subject_user_id=user_id,
            channel=channel.value,
            subscribed=subscribed,
        )
        if not written:
            raise account_gone()
        return await viewer_channels(info)

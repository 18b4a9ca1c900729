"""The explanation log: a user's own recent decision records, rendered exactly like `why`."""

from __future__ import annotations

from dataclasses import fields

import strawberry
from strawberry.types import Info

from privacy.i18n import Language
from privacy.purposes import ESSENTIAL, Source
from resolvers.common.errors import InvalidArgument
from resolvers.context import Context
from resolvers.explain.record import DecisionRecord, Why, render_why
from sql import load_queries

Q = load_queries()


@strawberry.type(description="A past decision about you: the why, plus where and about what.")
class Explanation(Why):
    surface: str = strawberry.field(
        description=(
            "Where the decision was shown: a Surface value in lower case (home, category, "
            "cart, offers, email, push), `layout` for layout tags and choices, a channel "
            "(email, sms, push, in_app) for reminders."
        )
    )
    subject_kind: str = strawberry.field(
        description="What the decision was about: item, offer, tag, layout or reminder."
    )
    subject_id: str = strawberry.field(
        description=(
            "Which one: an item id (feed items, reminders), an offer id, `tag:<name>=<value>`"
            " for a tag (e.g. tag:experience=REGULAR), `section:<key>`, `flag:<key>` or "
            "`offers` for a layout choice."
        )
    )


def explanation(record: DecisionRecord, language: Language) -> Explanation:
    why = render_why(record, language)
    return Explanation(
        **{f.name: getattr(why, f.name) for f in fields(why) if f.init},
        surface=record.surface,
        subject_kind=record.subject_kind,
        subject_id=record.subject_id,
    )


async def viewer_explanations(info: Info[Context, None], limit: int) -> list[Explanation]:
    ctx = info.context
    top = ctx.config.explanations_max_limit
    if not 1 <= limit <= top:
        raise InvalidArgument(f"limit: must be between 1 and {top}")
    guard = await ctx.guard()
    user_id = guard.snapshot.user_id
    if user_id is None:
        return []
    rows = await guard.fetch(
        Q.recent_decisions,
        user_id,
        limit,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("decisions",),
        subject_user_id=user_id,
    )
    return [explanation(DecisionRecord.from_json(r["record"]), ctx.language) for r in rows]

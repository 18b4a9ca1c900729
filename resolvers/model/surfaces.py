"""Where a decision is shown. Marketing surfaces carry targeted content (so they also need
marketing consent and never personalize for minors); every surface except a category page the
user opened is treated as shared (others may see it), which is why sensitive items never drive a
reason anywhere: they only appear, non-personalized, on their own category page."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where the answer is shown.")
class Surface(Enum):
    HOME = strawberry.enum_value(
        "home",
        description="The home page (shared).",
    )
    CATEGORY = strawberry.enum_value(
        "category",
        description=(
            "A category page the user opened; the only surface where a sensitive category's "
            "items appear, never personalized."
        ),
    )
    CART = strawberry.enum_value(
        "cart",
        description="The cart page (shared).",
    )
    OFFERS = strawberry.enum_value(
        "offers",
        description=("The offers page (marketing: needs marketing consent, never personalized for minors)."),
    )
    EMAIL = strawberry.enum_value(
        "email",
        description="An email (marketing).",
    )
    PUSH = strawberry.enum_value(
        "push",
        description="A push notification (marketing).",
    )


MARKETING_SURFACES = frozenset({Surface.OFFERS, Surface.EMAIL, Surface.PUSH})

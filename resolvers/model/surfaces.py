"""Where a decision is shown. Marketing surfaces carry targeted content (so they also need
marketing consent and never personalize for minors); every surface except a category page the
user opened is treated as shared (others may see it), which is why sensitive items never drive a
reason anywhere: they only appear, non-personalized, on their own category page."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers.common.enums import describe_values


@strawberry.enum(description="Where the answer is shown.")
class Surface(Enum):
    HOME = "home"
    CATEGORY = "category"
    CART = "cart"
    OFFERS = "offers"
    EMAIL = "email"
    PUSH = "push"


describe_values(
    Surface,
    {
        "HOME": "The home page (shared).",
        "CATEGORY": (
            "A category page the user opened; the only surface where a sensitive category's "
            "items appear, never personalized."
        ),
        "CART": "The cart page (shared).",
        "OFFERS": ("The offers page (marketing: needs marketing consent, never personalized for minors)."),
        "EMAIL": "An email (marketing).",
        "PUSH": "A push notification (marketing).",
    },
)


MARKETING_SURFACES = frozenset({Surface.OFFERS, Surface.EMAIL, Surface.PUSH})

"""Where a decision is shown. Marketing surfaces carry targeted content (so they also need
marketing consent and never personalize for minors); every surface except a category page the
user opened is treated as shared (others may see it), which is why sensitive items never drive a
reason anywhere: they only appear, non-personalized, on their own category page."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where the answer is shown.")
class Surface(Enum):
    HOME = "home"
    CATEGORY = "category"
    CART = "cart"
    OFFERS = "offers"
    EMAIL = "email"
    PUSH = "push"


MARKETING_SURFACES = frozenset({Surface.OFFERS, Surface.EMAIL, Surface.PUSH})

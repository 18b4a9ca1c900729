"""The feed's tunables: ranking weights, page size and diversity."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FeedWeights(BaseModel):
    """How the personalized feed scores a candidate (each signal is in 0..1 before weighting)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    affinity: float = Field(default=1.0, ge=0)  # the user's category affinity, normalized
    complement: float = Field(default=1.5, ge=0)  # complements something the user bought
    repurchase: float = Field(default=2.0, ge=0)  # a consumable whose cycle is due
    popularity: float = Field(default=0.5, ge=0)  # catalog popularity, normalized
    # How well the item's price level fits the user's price tier (1 inside the tier's band).
    price_fit: float = Field(default=0.8, ge=0)
    # The item matches one of the user's recent searches (decays like purchases).
    search: float = Field(default=1.5, ge=0)
    # The purchase-propensity model (resolvers/model/propensity.py): when it predicts the person is
    # likely to buy soon, items of their strongest category get this x the predicted probability.
    propensity: float = Field(default=0.6, ge=0)
    # Recency: purchase-related boosts halve every `recency_half_life_days` after the purchase,
    # and affinities halve with the same half-life after the user was last seen.
    recency_half_life_days: float = Field(default=30.0, gt=0)
    # "Show less like this": the score of items in a category or subcategory the user asked
    # for less of is multiplied by this.
    less_like_factor: float = Field(default=0.2, ge=0, le=1)


class FeedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_limit: int = Field(default=50, ge=1, le=200)
    weights: FeedWeights = FeedWeights()
    # Diversity of a personalized page: at most this many items of one subcategory, at most this
    # many complements of any one purchase, and at most `max_purchase_run` of them in a row.
    max_per_subcategory: int = Field(default=3, ge=1)
    max_per_purchase: int = Field(default=3, ge=1)
    max_purchase_run: int = Field(default=2, ge=1)

"""Schema assembly: each domain contributes its Query / Mutation types; they are merged here.

Extensions are passed as classes or zero-argument factories so every request gets its own
instance (shared instances leak execution state across concurrent requests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection, ParserCache, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gateway.extension import gateway_extension
from gateway.plan import TrustedPlans, plan_executor
from gateway.settings import Settings
from jobs.schema import JobsQuery
from resolvers.account.channels import ChannelMutation
from resolvers.account.consent import ConsentMutation, ConsentQuery
from resolvers.account.controls import ControlMutation
from resolvers.account.customization import CustomizationMutation, CustomizationQuery
from resolvers.account.inferences import InferenceMutation
from resolvers.account.language import LanguageMutation
from resolvers.account.level import LevelMutation
from resolvers.account.profile import ProfileMutation
from resolvers.account.rights import RightsMutation
from resolvers.account.time_zone import TimeZoneMutation
from resolvers.account.viewer import AccountQuery
from resolvers.analytics.admin import SpenderAdminMutation, SpenderAdminQuery
from resolvers.analytics.plan import RefuseSeeds
from resolvers.analytics.schema import AnalyticsMutation, AnalyticsQuery
from resolvers.common.scalars import SCALAR_OVERRIDES
from resolvers.events.schema import EventsMutation
from resolvers.experiments.schema import ExperimentMutation, ExperimentQuery
from resolvers.feed.schema import FeedQuery
from resolvers.layout.schema import LayoutQuery, LayoutRulesMutation, LayoutRulesQuery
from resolvers.offers.schema import OfferMutation
from resolvers.segments.schema import SegmentMutation, SegmentQuery

QUERY_TYPES: tuple[type, ...] = (
    AccountQuery,
    # personalization
    FeedQuery,
    SegmentQuery,
    ExperimentQuery,
    LayoutQuery,
    CustomizationQuery,
    LayoutRulesQuery,
    # privacy
    ConsentQuery,
    # analytics
    AnalyticsQuery,
    SpenderAdminQuery,
    # background jobs (admins)
    JobsQuery,
)
MUTATION_TYPES: tuple[type, ...] = (
    # personalization
    SegmentMutation,
    ExperimentMutation,
    LayoutRulesMutation,
    OfferMutation,
    InferenceMutation,
    ControlMutation,
    EventsMutation,
    # privacy
    ConsentMutation,
    LevelMutation,
    ChannelMutation,
    TimeZoneMutation,
    CustomizationMutation,
    LanguageMutation,
    ProfileMutation,
    RightsMutation,
    # analytics
    AnalyticsMutation,
    SpenderAdminMutation,
)


class GatewaySchema(strawberry.Schema):
    # The trusted documents (gateway/persisted.py registers them) and their compiled plans.
    trusted: TrustedPlans

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Logged by gateway.errors.ErrorPolicy instead: once, with the request id, and only
        for errors the client did not cause (Strawberry logs every validation error too)."""


def _merged(name: str, types: tuple[type, ...], description: str) -> type:
    """merge_types takes no description; the root types need one like every other type."""
    merged = merge_types(name, types)
    merged.__strawberry_definition__.description = description  # type: ignore[attr-defined]
    return merged


def _root_types() -> tuple[type, type | None]:
    query = _merged(
        "Query",
        QUERY_TYPES,
        "Reads. Anonymous callers get public, non-personalized answers; `viewer` is the signed-in "
        "user's own data; analysts, marketers and admins have their own fields.",
    )
    mutation = (
        _merged(
            "Mutation",
            MUTATION_TYPES,
            "Writes. Each happens whole or not at all: an expected refusal comes back as a result "
            "type (InvalidInput with field-level errors, BudgetExhausted, ...) with nothing "
            "written. A person's own choices apply from the next request.",
        )
        if MUTATION_TYPES
        else None
    )
    return query, mutation


def build_schema(
    settings: Settings, extra: Sequence[Callable[[], SchemaExtension] | type] = ()
) -> strawberry.Schema:
    query, mutation = _root_types()
    extensions: list[Any] = [
        ParserCache,
        # Limits (tokens, document shape, depth, aliases, cost), validation with its cache, and
        # the error policy (masking with the request id, database outage -> 503, no
        # suggestions in production): gateway/extension.py.
        gateway_extension(settings.domain.limits, hide_suggestions=settings.is_production),
        RefuseSeeds,  # analytics: no request may carry a seed (DESIGN §6)
        *extra,
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    trusted = TrustedPlans()
    schema = GatewaySchema(
        query=query,
        mutation=mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        # Trusted documents run from a plan compiled once (gateway/plan.py), others as usual.
        execution_context_class=plan_executor(trusted),
    )
    schema.trusted = trusted
    return schema


def schema_sdl() -> str:
    query, mutation = _root_types()
    schema = strawberry.Schema(query=query, mutation=mutation, scalar_overrides=SCALAR_OVERRIDES)  # type: ignore[arg-type]
    return schema.as_str() + "\n"

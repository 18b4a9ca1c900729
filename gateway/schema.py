"""Schema assembly: each domain contributes its Query / Mutation types; they are merged here.

Extensions are passed as classes or zero-argument factories so every request gets its own
instance (shared instances leak execution state across concurrent requests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gateway.cost import cost_limiter
from gateway.errors import error_policy
from gateway.settings import Settings
from resolvers.account import AccountQuery

QUERY_TYPES: tuple[type, ...] = (
    AccountQuery,
    # personalization
    # privacy
    # analytics
)
MUTATION_TYPES: tuple[type, ...] = (
    # personalization
    # privacy
    # analytics
)


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Logged by gateway.errors.ErrorPolicy instead: once, with the request id, and only
        for errors the client did not cause (Strawberry logs every validation error too)."""


def _root_types() -> tuple[type, type | None]:
    query = merge_types("Query", QUERY_TYPES)
    mutation = merge_types("Mutation", MUTATION_TYPES) if MUTATION_TYPES else None
    return query, mutation


def build_schema(
    settings: Settings, extra: Sequence[Callable[[], SchemaExtension] | type] = ()
) -> strawberry.Schema:
    query, mutation = _root_types()
    limits = settings.domain.limits
    # The rule classes are built once: ValidationCache keys on the rule classes, so
    # QueryDepthLimiter / MaxAliasesLimiter factories (a new class per request) would defeat it.
    shape_rules: list[Any] = [depth_rule(limits.max_depth, None, None), alias_rule(limits.max_aliases)]
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        ParserCache,
        lambda: AddValidationRules(shape_rules),
        ValidationCache,
        # After ValidationCache: it prices only documents that passed validation.
        cost_limiter(limits),
        # Masks unexpected errors (with the request id) and maps database outages to 503.
        error_policy(limits),
        *extra,
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=query,
        mutation=mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
    )


def schema_sdl() -> str:
    query, mutation = _root_types()
    return strawberry.Schema(query=query, mutation=mutation).as_str() + "\n"

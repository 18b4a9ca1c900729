"""Schema assembly: each domain contributes its Query / Mutation types; they are merged here.

Extensions are passed as classes or zero-argument factories so every request gets its own
instance (shared instances leak execution state across concurrent requests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection, ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gateway.extension import gateway_extension
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
    extensions: list[Any] = [
        ParserCache,
        ValidationCache,
        # After ValidationCache. Limits (tokens, depth, aliases, cost) and the error policy
        # (masking with the request id, database outage -> 503): gateway/extension.py.
        gateway_extension(settings.domain.limits),
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

"""The gateway's one schema extension: document limits, query cost, and the error policy.

One extension instead of four (MaxTokensLimiter, AddValidationRules, a cost limiter, an error
mask) because Strawberry pays for every extension's hooks on every request (~15-20 µs each,
measured; see docs/benchmarks.md), whether or not a hook does anything.

Hook order in build_schema: this extension comes after ValidationCache, so on_validate sees
the (cached) validation result before pricing the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from gateway.cost import check_cost
from gateway.errors import apply_error_policy
from resolvers.common.limits import LimitsConfig


def gateway_extension(limits: LimitsConfig) -> type[SchemaExtension]:
    """A class bound to these limits (a class, so every request gets its own instance)."""
    # The rule classes are built once: ValidationCache is keyed by the rule classes, so a
    # QueryDepthLimiter(...) / MaxAliasesLimiter(...) factory (a new class per request) would
    # silently turn the cache off.
    rules: tuple[Any, ...] = (depth_rule(limits.max_depth, None, None), alias_rule(limits.max_aliases))
    retry_after = limits.unavailable_retry_after_s

    class GatewayExtension(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            ctx = self.execution_context
            # the parser stops after max_tokens (what MaxTokensLimiter does)
            ctx.parse_options["max_tokens"] = limits.max_tokens
            ctx.validation_rules = (*ctx.validation_rules, *rules)
            yield
            request = getattr(ctx.context, "request", None)
            if request is not None:  # for the access log and the metrics' operation label
                request.state.operation_name = ctx.operation_name
            apply_error_policy(ctx, retry_after)

        def on_validate(self) -> Iterator[None]:
            check_cost(self.execution_context, limits)
            yield

    return GatewayExtension

"""The gateway's one schema extension: document limits, validation, query cost, and the error
policy.

One extension instead of five (MaxTokensLimiter, ValidationCache, AddValidationRules, a cost
limiter, an error mask) because Strawberry pays for every extension's hooks on every request
(~15-20 µs each, measured; see docs/benchmarks.md), whether or not a hook does anything.

Validation happens here rather than in Strawberry's ValidationCache, so that the cheap shape
check of resolvers/common/document_limits.py runs before it (a document refused there is never
validated), suggestions can be switched off in every validation message (production), and the
cache is keyed by the document's text: Strawberry's cache hashes the parsed document, which is
a walk of the whole tree on every request."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gateway.cost import CostCache, check_cost
from gateway.errors import apply_error_policy
from resolvers.common import document_limits
from resolvers.common.limits import LimitsConfig

# Distinct documents whose validation result is kept (per schema); bounded so that a client
# sending ever new documents cannot grow memory.
VALIDATION_CACHE_SIZE = 256
Rules = tuple[type[ASTValidationRule], ...]
# Strawberry's own rules, which its validate_document adds to every validation.
STRAWBERRY_RULES: Rules = (MaybeNullValidationRule, OneOfInputValidationRule)


class ValidationResults:
    """Validation errors per (document text, rules): an LRU of VALIDATION_CACHE_SIZE entries."""

    def __init__(self, limits: LimitsConfig, hide_suggestions: bool) -> None:
        self.limits = limits
        self.hide_suggestions = hide_suggestions
        self._results: OrderedDict[tuple[str, Rules], list[GraphQLError]] = OrderedDict()

    def get(self, schema: Any, text: str | None, document: DocumentNode, rules: Rules) -> list[GraphQLError]:
        if text is None:  # a document given pre-parsed: nothing to key on
            return self._validate(schema, document, rules)
        key = (text, rules)
        hit = self._results.get(key)
        if hit is not None:
            self._results.move_to_end(key)
            return hit
        errors = self._results[key] = self._validate(schema, document, rules)
        if len(self._results) > VALIDATION_CACHE_SIZE:
            self._results.popitem(last=False)
        return errors

    def _validate(self, schema: Any, document: DocumentNode, rules: Rules) -> list[GraphQLError]:
        return document_limits.validate(
            schema, document, self.limits, (*rules, *STRAWBERRY_RULES), self.hide_suggestions
        )


def gateway_extension(limits: LimitsConfig, hide_suggestions: bool = False) -> type[SchemaExtension]:
    """A class bound to these limits (a class, so every request gets its own instance)."""
    # The rule classes are built once: the validation cache is keyed by the rule classes, so a
    # QueryDepthLimiter(...) / MaxAliasesLimiter(...) factory (a new class per request) would
    # silently turn the cache off.
    rules: tuple[Any, ...] = (depth_rule(limits.max_depth, None, None), alias_rule(limits.max_aliases))
    retry_after = limits.unavailable_retry_after_s
    parse_options = document_limits.parse_options(limits)
    results = ValidationResults(limits, hide_suggestions)
    costs = CostCache()

    class GatewayExtension(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            ctx = self.execution_context
            # the parser stops after max_tokens / max_document_chars
            ctx.parse_options.update(parse_options)  # type: ignore[typeddict-item]
            ctx.validation_rules = (*ctx.validation_rules, *rules)
            yield
            request = getattr(ctx.context, "request", None)
            if request is not None:  # for the access log and the metrics' operation label
                request.state.operation_name = ctx.operation_name
            apply_error_policy(ctx, retry_after, hide_suggestions)

        def on_validate(self) -> Iterator[None]:
            ctx = self.execution_context
            document = ctx.graphql_document
            if document is not None and ctx.pre_execution_errors is None:
                # Setting pre_execution_errors (even to []) tells Strawberry validation is done.
                errors = results.get(ctx.schema._schema, ctx.query, document, ctx.validation_rules)
                if not errors:
                    nul = document_limits.nul_in_variables(document, ctx.variables)
                    errors = [nul] if nul is not None else []
                ctx.pre_execution_errors = errors
                if not errors:
                    check_cost(ctx, limits, costs)
            yield

    return GatewayExtension

"""Query cost limit: refuse an operation whose estimated work exceeds a budget, before it runs.

Model (Apollo / IBM GraphQL cost spec defaults): a field returning an object costs 1, a scalar
costs 0; a list field multiplies its own cost and everything selected inside it by its requested
size (its `limit` or `first` argument, literal or variable, else `default_list_size`); each root
mutation field costs `mutation_cost` more. Fragments (spreads and inline) are expanded where
they are used, so a fragment spread ten times costs ten times.

It runs in an extension (gateway/extension.py) rather than as a validation rule because a
rule cannot see the variables (a `limit: $n` is priced with the value the client sent), and it
runs inside the validation step so an over-cost operation is rejected like an invalid one."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
)

from resolvers.common.limits import LimitsConfig

SIZE_ARGUMENTS = ("limit", "first")
_MAX_FRAGMENT_NESTING = 50  # validation already refuses cycles; this only bounds the walk


class CostEstimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        limits: LimitsConfig,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits

    def operation(self, op: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(op.operation)
        if root is None:
            return 0
        cost = self.selections(op.selection_set, root, 0)
        if op.operation is OperationType.MUTATION:
            cost += self.limits.mutation_cost * sum(1 for _ in self._fields(op.selection_set, 0))
        return cost

    def _fields(self, selection_set: SelectionSetNode, nesting: int) -> Iterator[FieldNode]:
        """Every field of a selection set, with fragments expanded in place."""
        if nesting > _MAX_FRAGMENT_NESTING:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(selection.selection_set, nesting + 1)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    yield from self._fields(fragment.selection_set, nesting + 1)

    def selections(self, selection_set: SelectionSetNode, parent: Any, nesting: int) -> int:
        total = 0
        for node in self._fields(selection_set, nesting):
            fields = getattr(parent, "fields", None)
            field = fields.get(node.name.value) if fields else None
            if field is None:  # __typename, or a field on a union member reached via a fragment
                field = self._field_on_any_member(parent, node.name.value)
            if field is None:
                continue
            total += self.field(node, field, nesting)
        return total

    def _field_on_any_member(self, parent: Any, name: str) -> Any:
        for member in getattr(parent, "types", ()) or ():
            if name in member.fields:
                return member.fields[name]
        abstract = is_abstract_type(parent)
        for impl in self.schema.get_possible_types(parent) if abstract else ():
            if isinstance(impl, GraphQLObjectType) and name in impl.fields:
                return impl.fields[name]
        return None

    def field(self, node: FieldNode, field: GraphQLField, nesting: int) -> int:
        multiplier = 1
        inner: Any = field.type
        while isinstance(inner, GraphQLNonNull | GraphQLList):
            if isinstance(inner, GraphQLList):
                multiplier *= self.list_size(node, field)
            inner = inner.of_type
        named = get_named_type(inner)
        if not is_composite_type(named):
            return 0
        children = self.selections(node.selection_set, named, nesting) if node.selection_set else 0
        return multiplier * (1 + children)

    def list_size(self, node: FieldNode, field: GraphQLField) -> int:
        """The size asked for; else the argument's schema default; else default_list_size."""
        for argument in node.arguments or ():
            if argument.name.value not in SIZE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(1, given)
        for name in SIZE_ARGUMENTS:
            default = field.args[name].default_value if name in field.args else None
            if isinstance(default, int) and not isinstance(default, bool):
                return max(1, default)
        return self.limits.default_list_size


def operation_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: LimitsConfig,
) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    estimator = CostEstimator(schema, fragments, variables or {}, limits)
    return max((estimator.operation(op) for op in operations), default=0)


# Priced (document text, operation, variables) kept; bounded like the validation cache.
COST_CACHE_SIZE = 512
_PLAIN = (str, int, float, bool, type(None))


class CostCache:
    """The cost of a document under the given variables is a function of its text, operation
    name and variables alone (the schema and limits are fixed per app), so a document a client
    sends again is priced once: the app's own documents arrive on every request with no or a
    few scalar variables. Variables that are not a handful of scalars (an input list, a large
    object) are priced on every request rather than hashed; the LRU is bounded."""

    def __init__(self) -> None:
        self._costs: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    @staticmethod
    def key(text: str | None, operation_name: str | None, variables: Mapping[str, Any] | None) -> Any:
        if text is None:
            return None
        given = variables or {}
        if len(given) > 8 or not all(type(v) in _PLAIN for v in given.values()):
            return None
        # the type too: True == 1 == 1.0 as keys, but not as variables
        return (text, operation_name, tuple(sorted((k, type(v).__name__, v) for k, v in given.items())))

    def cost(self, ctx: Any, limits: LimitsConfig) -> int:
        key = self.key(ctx.query, ctx.operation_name, ctx.variables)
        if key is not None and (hit := self._costs.get(key)) is not None:
            self._costs.move_to_end(key)
            return hit
        cost = _price(ctx, limits)
        if key is not None:
            self._costs[key] = cost
            if len(self._costs) > COST_CACHE_SIZE:
                self._costs.popitem(last=False)
        return cost


def _price(ctx: Any, limits: LimitsConfig) -> int:
    return operation_cost(ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables, limits)


def check_cost(ctx: Any, limits: LimitsConfig, cache: CostCache | None = None) -> None:
    """Run inside on_validate, once the document is valid: when it is over the limit, set the
    error as a validation error (nothing runs). The document passed the shape check of
    resolvers/common/document_limits.py, so pricing it walks a bounded number of selections."""
    if ctx.pre_execution_errors or ctx.graphql_document is None:
        return
    cost = cache.cost(ctx, limits) if cache is not None else _price(ctx, limits)
    if cost > limits.max_cost:
        ctx.pre_execution_errors = [
            GraphQLError(
                f"query cost {cost} exceeds the limit of {limits.max_cost}; "
                "request smaller lists (limit/first) or fewer fields",
                extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "max_cost": limits.max_cost},
            )
        ]

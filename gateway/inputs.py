"""Variable coercion of trusted documents compiled once (gateway/plan.py builds their executors).

graphql-core coerces every variable of every request by walking its type (`coerce_input_value`:
non-null? list? input object? leaf?) and, before that, walks the value once more to refuse input
nested deeper than its recursion limit (`input_is_nested_too_deeply`). For the batch of an
app's trackEvents (100 input objects of ten fields) that was a quarter of the gateway's CPU per
batch. Which branch each level takes depends only on the type, so a trusted document's variable
types are compiled once into nested closures that do exactly the work `coerce_input_value`
does for a valid value, in the same order, calling the same leaf coercions and the same default
coercion. The depth walk is needed only for recursive input types: a value can nest no deeper
than a non-recursive type, whose depth is known when compiling.

Whatever is not the plain valid case goes back to graphql-core, which then does everything
itself and words the errors: a value a compiled function finds invalid, a missing variable with
a default, a recursive or @oneOf input type. tests/test_inputs.py proves the two agree on valid
and fuzzed values."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from graphql import (
    GraphQLInputType,
    GraphQLSchema,
    Undefined,
    VariableDefinitionNode,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.utilities.coerce_input_value import coerce_default_value

# value -> the coerced value, or Undefined when invalid (as coerce_input_value returns)
Coerce = Callable[[Any], Any]


class NotCompiled(Exception):
    """This type is left to graphql-core (recursive, @oneOf, or deeper than its limit)."""


def compile_input(type_: GraphQLInputType, depth: int = 0, seen: frozenset[str] = frozenset()) -> Coerce:
    """`coerce_input_value(value, type_)`, specialised for `type_`."""
    if depth > MAX_NESTING_DEPTH:
        raise NotCompiled("deeper than graphql-core's nesting limit")
    if is_non_null_type(type_):
        inner = compile_input(type_.of_type, depth, seen)

        def non_null(value: Any) -> Any:
            if value is None or value is Undefined:
                return Undefined
            return inner(value)

        return non_null
    if is_list_type(type_):
        item = compile_input(type_.of_type, depth + 1, seen)

        def list_of(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            if not is_iterable(value):  # a non-list value is a list of one
                coerced = item(value)
                return Undefined if coerced is Undefined else [coerced]
            out: list[Any] = []
            append = out.append
            for entry in value:
                coerced = item(entry)
                if coerced is Undefined:
                    return Undefined
                append(coerced)
            return out

        return list_of
    if is_input_object_type(type_):
        if type_.name in seen:
            raise NotCompiled(f"{type_.name} is recursive")
        if type_.is_one_of:
            raise NotCompiled(f"{type_.name} is @oneOf")
        inner_seen = seen | {type_.name}
        known = frozenset(type_.fields)
        fields = tuple(
            (
                name,
                field.out_name or name,
                compile_input(field.type, depth + 1, inner_seen),
                is_required_input_field(field),
                field,
            )
            for name, field in type_.fields.items()
        )
        out_type = type_.out_type

        def input_object(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            if not isinstance(value, dict):
                return Undefined
            for name, given in value.items():
                if given is not Undefined and name not in known:
                    return Undefined
            coerced: dict[str, Any] = {}
            get = value.get
            for name, out_name, coerce, required, field in fields:
                given = get(name, Undefined)
                if given is Undefined:
                    if required:
                        return Undefined
                    default = coerce_default_value(field)
                    if default is not Undefined:
                        coerced[out_name] = default
                else:
                    result = coerce(given)
                    if result is Undefined:
                        return Undefined
                    coerced[out_name] = result
            return out_type(coerced)

        return input_object
    if not is_leaf_type(type_):
        raise NotCompiled(f"not an input type: {type_}")
    leaf = type_.coerce_input_value

    def leaf_value(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        try:
            return leaf(value)
        except Exception:  # as coerce_input_value: any failure is an invalid value
            return Undefined

    return leaf_value


class CompiledVariables:
    """The variables of one operation: coerced by the compiled functions, or None (then
    graphql-core's `get_variable_values` runs, with its errors)."""

    def __init__(self, variables: list[tuple[str, GraphQLVariableSignature, Coerce, bool, bool]]) -> None:
        self.variables = variables

    @classmethod
    def compile(
        cls, schema: GraphQLSchema, definitions: Collection[VariableDefinitionNode]
    ) -> CompiledVariables | None:
        variables = []
        for node in definitions:
            signature = get_variable_signature(schema, node)
            if not isinstance(signature, GraphQLVariableSignature):
                return None  # an error: graphql-core reports it
            try:
                coerce = compile_input(signature.type)
            except NotCompiled:
                return None
            non_null, has_default = is_non_null_type(signature.type), node.default_value is not None
            variables.append((signature.name, signature, coerce, non_null, has_default))
        return cls(variables)

    def coerce(self, inputs: dict[str, Any]) -> VariableValues | None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for name, signature, coerce, non_null, has_default in self.variables:
            value = inputs.get(name, Undefined)
            if value is Undefined:
                if has_default or non_null:
                    return None  # a default to coerce, or an error: graphql-core's
                sources[name] = VariableValueSource(signature)
                continue
            sources[name] = VariableValueSource(signature, value)
            result = coerce(value)
            if result is Undefined:
                return None
            coerced[name] = result
        return VariableValues(sources, coerced)
